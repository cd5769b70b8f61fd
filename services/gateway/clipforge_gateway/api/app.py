"""The FastAPI application of the gateway (the service runtime adds /healthz, /readyz and /metrics)."""

from __future__ import annotations

from typing import Any

from clipforge_common import __version__
from fastapi import FastAPI

from clipforge_gateway.api import ws
from clipforge_gateway.api.body_limit import JsonBodyLimit
from clipforge_gateway.api.errors import install_error_handlers, remember_route_methods
from clipforge_gateway.api.routes import clips, projects, renders, transcripts, usage, videos
from clipforge_gateway.context import GatewayContext
from clipforge_gateway.deps import Authenticator

DESCRIPTION = """
ClipForge turns long talking videos into short, captioned clips ranked by how well they hold a viewer.

**Authentication**: every endpoint but `/healthz` needs `Authorization: Bearer <key>`
(create one with `clipforge keys create --tenant NAME`). The WebSocket also accepts `?key=<key>`.
A tenant never sees another tenant's data: such ids answer 404.

**Errors** are always JSON: `{"error": {"code": "...", "message": "..."}}`.
Rate limits are per key; over the limit the answer is 429 with `Retry-After`.

**Flow**: create a project → upload a file (or import a URL) → watch
`/v1/videos/{id}/events` (WebSocket) → list ranked clips → download renders, transcript (JSON/SRT/VTT).

**Live events** (`GET /v1/videos/{id}/events`, WebSocket): the first message is
`{"type": "snapshot", "version": n, "video": <Video>}`, then one
`{"type": "event", "version", "event_type", "event_id", "occurred_at", "correlation_id", "data"}` per
progress or domain event, in increasing `version`.
"""

TAGS = [
    {"name": "projects", "description": "Group videos."},
    {"name": "videos", "description": "Upload or import, follow, delete."},
    {"name": "transcripts", "description": "Word-timed transcripts and subtitles."},
    {"name": "clips", "description": "Ranked clip candidates and render requests."},
    {"name": "renders", "description": "Rendered clips and their files."},
    {"name": "usage", "description": "What a tenant used."},
]


# FastAPI traces requests natively once the platform installs a tracer provider. One span per
# request is kept; spans per dependency, endpoint and serialization cost more CPU than a cached read.
TELEMETRY: dict[str, Any] = {"operation_spans": False}


SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key `cf_<key id>_<secret>` (`clipforge keys create --tenant NAME`).",
}


def _declare_bearer_auth(app: FastAPI) -> None:
    """Say in the OpenAPI document that every operation needs the bearer key (clients and fuzzers read it).

    Authentication itself is the ``require_principal`` dependency; this only documents it.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = SECURITY_SCHEME
            schema["security"] = [{"apiKey": []}]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(ctx: GatewayContext) -> FastAPI:
    app = FastAPI(
        title="ClipForge API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        telemetry=TELEMETRY,  # type: ignore[arg-type]
    )
    app.add_middleware(JsonBodyLimit)
    ctx.auth = Authenticator(ctx)
    app.state.gateway = ctx
    install_error_handlers(app)
    # videos first: its GET /v1/videos/{id} is the hot path and routes are matched in order.
    modules = (videos, projects, transcripts, clips, renders, usage)
    for module in modules:
        app.include_router(module.router)
    remember_route_methods(app, [route for module in modules for route in module.router.routes])
    app.include_router(ws.router)
    _declare_bearer_auth(app)
    return app
