"""Helpers shared by the routes."""

from __future__ import annotations

from typing import Any

from fastapi import Path

from clipforge_gateway.api.errors import ApiError, not_found
from clipforge_gateway.api.schemas import ErrorResponse
from clipforge_gateway.deps import Principal

# Ids are UUIDs; the bound only keeps absurd input away from the stores.
VideoId = Path(min_length=1, max_length=64, description="video id (UUIDv7)")
ProjectId = Path(min_length=1, max_length=64, description="project id (UUIDv7)")
ClipId = Path(min_length=1, max_length=64, description="clip id")
RenderId = Path(min_length=1, max_length=64, description="render id")


def visible(view: dict[str, Any] | None, principal: Principal, what: str = "video") -> dict[str, Any]:
    """The view's body if the caller's tenant may see it; 404 otherwise (never 403)."""
    if view is None or view.get("tenant_id") != principal.tenant_id or view.get("deleted") or view.get("body") is None:
        raise not_found(what)
    return view["body"]


def clamp_limit(limit: int, maximum: int) -> int:
    if limit < 1:
        raise ApiError(422, "validation_error", "limit must be at least 1")
    return min(limit, maximum)


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _err("Missing or invalid API key"),
    422: _err("Invalid request"),
    429: _err("Rate limit exceeded (see Retry-After)"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _err("No such id for this tenant")}
