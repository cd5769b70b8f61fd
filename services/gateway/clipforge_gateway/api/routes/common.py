"""Helpers shared by the routes."""

from __future__ import annotations

from typing import Any

from fastapi import Path
from fastapi.responses import Response

from clipforge_gateway.api.errors import ApiError, not_found
from clipforge_gateway.api.schemas import ErrorResponse
from clipforge_gateway.cache import View
from clipforge_gateway.deps import Principal

# Ids are UUIDs; the bounds only keep absurd input (too long, or a NUL PostgreSQL cannot store) away
# from the stores.
ID_PATTERN = r"^[^\x00]+$"
VideoId = Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="video id (UUIDv7)")
ProjectId = Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="project id (UUIDv7)")
ClipId = Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="clip id")
RenderId = Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="render id")


def impossible_id(value: str) -> bool:
    """An id no row can have (routes that skip the Path validation answer 404 for it)."""
    return len(value) > 64 or "\x00" in value


def visible(view: View | None, principal: Principal, what: str = "video") -> View:
    """The view if the caller's tenant may see it; 404 otherwise (never 403: ids are not confirmed)."""
    if view is None or view.tenant_id != principal.tenant_id or view.deleted or view.body_json is None:
        raise not_found(what)
    return view


def json_body(view: View, status_code: int = 200) -> Response:
    """The view's body as it is stored (validated and serialized when the view was built)."""
    return Response(view.body_json, status_code=status_code, media_type="application/json")


def clamp_limit(limit: int, maximum: int) -> int:
    if limit < 1:
        raise ApiError(422, "validation_error", "limit must be at least 1")
    return min(limit, maximum)


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _err("Malformed request, e.g. a body that is not JSON"),
    401: _err("Missing or invalid API key"),
    422: _err("Invalid request"),
    429: _err("Rate limit exceeded (see Retry-After)"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _err("No such id for this tenant")}
