"""The calling tenant's usage (uploaded bytes, ingested seconds, renders) per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query

from clipforge_gateway.api.routes.common import AUTH_ERRORS
from clipforge_gateway.api.schemas import UsageOut, UsageRow
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Principal, get_ctx, require_principal
from clipforge_gateway.projections import repository as repo

router = APIRouter(tags=["usage"], responses=AUTH_ERRORS)


@router.get("/v1/usage", response_model=UsageOut, summary="Usage per day")
async def get_usage(
    days: int = Query(30, ge=1, le=366),
    principal: Principal = Depends(require_principal),
    ctx: GatewayContext = Depends(get_ctx),
) -> UsageOut:
    since = (datetime.now(UTC) - timedelta(days=days - 1)).date()
    rows = await repo.list_usage(ctx.pool, principal.tenant_id, since)
    return UsageOut(items=[UsageRow(day=r["day"], metric=r["metric"], amount=r["amount"]) for r in rows])
