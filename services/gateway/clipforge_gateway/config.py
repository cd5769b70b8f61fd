"""Gateway settings (``CLIPFORGE_GATEWAY_*``); the platform's own settings stay in clipforge_common."""

from __future__ import annotations

from clipforge_common.service_config import ServiceConfig
from pydantic import Field
from pydantic_settings import SettingsConfigDict

# Media types the sniffer recognises and the gateway accepts by default (ingest validates further).
DEFAULT_ALLOWED_TYPES: tuple[str, ...] = (
    "video/mp4",
    "video/quicktime",
    "audio/mp4",
    "video/webm",
    "video/x-matroska",
    "audio/mpeg",
    "audio/wav",
    "audio/ogg",
    "audio/flac",
)


class GatewayConfig(ServiceConfig):
    """Gateway settings; ``group_id``, ``database`` and ``tenants`` come from :class:`ServiceConfig`."""

    # No field may be called `url` or `port`: CLIPFORGE_GATEWAY_URL/PORT belong to the platform settings.
    model_config = SettingsConfigDict(env_prefix="CLIPFORGE_GATEWAY_", extra="ignore")

    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="requests per key per window (a key may override)"
    )
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1, description="largest accepted source file")
    allowed_content_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED_TYPES))
    view_ttl_seconds: int = Field(default=3600, ge=1, description="safety-net TTL of cached Redis views")
    key_cache_seconds: float = Field(
        default=30.0, ge=0, description="how long a looked-up API key record is trusted in process (revocation delay)"
    )
    redis_namespace: str = Field(
        default="", description="prefix of every Redis key and channel (a rebuilt projection gets its own)"
    )
    projector_enabled: bool = Field(default=True, description="False makes an API-only replica")
    projection_poll_seconds: float = Field(
        default=2.0, gt=0, description="how often a replica checks which projection version to read"
    )
    projection_catch_up_seconds: float = Field(
        default=120.0, gt=0, description="longest wait for a switched-to projection's lag to reach 0 before reading it"
    )
    lag_interval_seconds: float = Field(default=15.0, gt=0, description="how often projector lag is measured")
    ws_queue_size: int = Field(default=1000, ge=1, description="events buffered per WebSocket client")
    presign_seconds: int = Field(default=900, ge=1, description="lifetime of download redirects")
    list_limit_max: int = Field(default=100, ge=1)
    gc_young_threshold: int = Field(
        default=50_000,
        ge=0,
        description="allocations between young-generation collections (Python's default 700; 0 keeps it); "
        "requests allocate many short-lived objects, and fewer collections measurably cut CPU per request",
    )
