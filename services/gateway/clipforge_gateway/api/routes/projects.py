"""Projects: create, list, get, and the videos of a project."""

from __future__ import annotations

from clipforge_common.envelope import new_event_id
from fastapi import APIRouter, Depends, Query

from clipforge_gateway.api.errors import not_found
from clipforge_gateway.api.routes.common import (
    AUTH_ERRORS,
    ID_PATTERN,
    NOT_FOUND,
    ProjectId,
    _err,
    clamp_limit,
)
from clipforge_gateway.api.schemas import ProjectCreate, ProjectList, ProjectOut, VideoList
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Principal, get_ctx, require_principal
from clipforge_gateway.projections import repository as repo
from clipforge_gateway.projections.views import video_summary

router = APIRouter(prefix="/v1/projects", tags=["projects"], responses=AUTH_ERRORS)


@router.post(
    "",
    status_code=201,
    response_model=ProjectOut,
    summary="Create a project",
    responses={413: _err("Body larger than 1 MiB")},
)
async def create_project(
    body: ProjectCreate, principal: Principal = Depends(require_principal), ctx: GatewayContext = Depends(get_ctx)
) -> ProjectOut:
    row = await repo.create_project(ctx.pool, new_event_id(), principal.tenant_id, body.name, body.description)
    return ProjectOut(**dict(row))


@router.get("", response_model=ProjectList, summary="List projects, newest first")
async def list_projects(
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=64, pattern=ID_PATTERN, description="next_cursor of the previous page"),
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> ProjectList:
    limit = clamp_limit(limit, ctx.config.list_limit_max)
    rows = await repo.list_projects(ctx.pool, principal.tenant_id, limit + 1, cursor)
    items = [ProjectOut(**dict(r)) for r in rows[:limit]]
    return ProjectList(items=items, next_cursor=items[-1].project_id if len(rows) > limit else None)


@router.get("/{project_id}", response_model=ProjectOut, responses=NOT_FOUND, summary="Get a project")
async def get_project(
    project_id: str = ProjectId,
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> ProjectOut:
    row = await repo.get_project(ctx.pool, principal.tenant_id, project_id)
    if row is None:
        raise not_found("project")
    return ProjectOut(**dict(row))


@router.get("/{project_id}/videos", response_model=VideoList, responses=NOT_FOUND, summary="List a project's videos")
async def list_project_videos(
    project_id: str = ProjectId,
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=64, pattern=ID_PATTERN),
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> VideoList:
    if await repo.get_project(ctx.pool, principal.tenant_id, project_id) is None:
        raise not_found("project")
    limit = clamp_limit(limit, ctx.config.list_limit_max)
    rows = await repo.list_videos(ctx.pool, principal.tenant_id, project_id, limit + 1, cursor)
    items = [video_summary(r) for r in rows[:limit]]
    return VideoList(items=items, next_cursor=items[-1].video_id if len(rows) > limit else None)
