"""Every error leaves the gateway as ``{"error": {"code", "message"}}`` with a fitting status."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from asyncpg.exceptions import CharacterNotInRepertoireError, UntranslatableCharacterError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute

log = structlog.get_logger(__name__)

_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """A client-facing error; raise it anywhere below a route."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = details


def not_found(what: str) -> ApiError:
    """404 for a missing id, and equally for another tenant's id (never 403: ids are not confirmed)."""
    return ApiError(404, f"{what}_not_found", f"No {what.replace('_', ' ')} with this id.")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, details: Any = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=dict(headers or {}))


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Inputs are not echoed back: they may be large or hold something secret.
    return [
        {"loc": [str(p) for p in err.get("loc", ())], "message": str(err.get("msg", "")), "type": str(err.get("type"))}
        for err in exc.errors()
    ]


def remember_route_methods(app: FastAPI, routes: Iterable[BaseRoute]) -> None:
    """Index which methods each path serves, for the ``Allow`` header of a 405.

    Starlette names only the methods of the first route matching the path, but GET and DELETE
    ``/v1/videos/{id}`` (say) are two routes.
    """
    table: list[tuple[re.Pattern[str], frozenset[str]]] = []
    for route in routes:
        methods, regex = getattr(route, "methods", None), getattr(route, "path_regex", None)
        if methods and regex is not None:
            table.append((regex, frozenset(methods)))
    app.state.route_methods = table


def allowed_methods(request: Request) -> str | None:
    path = request.scope.get("path", "")
    table: list[tuple[re.Pattern[str], frozenset[str]]] = getattr(request.app.state, "route_methods", [])
    methods = {m for regex, route_methods in table if regex.match(path) for m in route_methods}
    return ", ".join(sorted(methods)) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers, exc.details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = "No such endpoint."
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405 and (allow := allowed_methods(request)):
            headers["Allow"] = allow
        return error_response(exc.status_code, code, message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "message": "invalid request"}
        where = ".".join(first["loc"][1:] if len(first["loc"]) > 1 else first["loc"])
        message = f"{where}: {first['message']}" if where else first["message"]
        return error_response(422, "validation_error", message, details=details)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(_request: Request, _exc: ClientDisconnect) -> JSONResponse:
        # The client went away mid-body (an aborted upload): nothing to log as a server error.
        return error_response(400, "client_disconnected", "The request body ended before it was complete.")

    @app.exception_handler(CharacterNotInRepertoireError)
    @app.exception_handler(UntranslatableCharacterError)
    async def _unstorable_text(_request: Request, exc: Exception) -> JSONResponse:
        # A NUL character (in an id, a cursor, a name...) reached PostgreSQL, whose text cannot hold
        # one: the input is at fault, whichever field carried it.
        log.info("unstorable text refused", error_type=type(exc).__name__)
        return error_response(422, "validation_error", "Text must not contain NUL (\\u0000) characters.")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", error_type=type(exc).__name__, error=str(exc)[:500], exc_info=exc)
        return error_response(500, "internal_error", "Something went wrong on our side; try again later.")
