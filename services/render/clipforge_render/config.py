"""Settings of the render service (``CLIPFORGE_RENDER_*``), beside the platform's ``CLIPFORGE_*``."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from clipforge_common.settings import Settings, get_settings
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clipforge_render.domain import PRESETS, ReframeConfig, VideoPreset, get_preset

SERVICE = "render"


class RenderConfig(BaseSettings):
    # No field may be called `port`: CLIPFORGE_RENDER_PORT belongs to the platform settings.
    model_config = SettingsConfigDict(env_prefix="CLIPFORGE_RENDER_", extra="ignore")

    top_k: int = Field(default=3, ge=0, le=50, description="best clips of every clips.ranked rendered automatically")
    default_preset: str = Field(default="vertical", description="preset of automatic renders")
    # One Haar pass costs ~25 ms at 640 px while encoding a second of 1080x1920 costs ~0.35 s: at 3
    # samples a second face detection alone would add ~20 % to every render. Speakers move slowly;
    # the crop path interpolates between samples.
    sample_fps: float = Field(default=1.0, gt=0, le=30, description="frames per second analysed for faces")
    face_tracking: bool = Field(default=True, description="False: always a centre crop")
    render_timeout_seconds: float = Field(default=3600.0, gt=0, description="kill an ffmpeg run after this")
    # x264's default of 1.5 frame threads per core buys little speed and costs ~10 MB per thread at
    # 1080x1920; one thread per core keeps a render well inside its memory budget.
    ffmpeg_threads: int | None = Field(default=None, ge=1, le=64, description="ffmpeg threads; default one per core")

    # Deployment.
    group_id: str | None = Field(default=None, description="Kafka consumer group; default clipforge.render")
    database: str | None = Field(default=None, description="PostgreSQL database; default clipforge_render")
    tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="serve only these tenants (a dedicated instance with its own group_id); empty = all",
    )
    work_dir: Path | None = Field(default=None, description="scratch space for media; default the system temp")
    job_max_attempts: int = Field(default=3, ge=1)

    @field_validator("tenants", mode="before")
    @classmethod
    def _tenant_list(cls, value: Any) -> Any:
        """A JSON list or a comma-separated string."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    def serves(self, tenant_id: str) -> bool:
        return not self.tenants or tenant_id in self.tenants

    @field_validator("default_preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in PRESETS:
            raise ValueError(f"unknown preset {value!r}; choose one of {sorted(PRESETS)}")
        return value

    def reframe(self) -> ReframeConfig:
        return ReframeConfig(sample_fps=self.sample_fps)

    def preset(self, name: str) -> VideoPreset:
        """A named preset with this instance's ffmpeg threads (raises ValueError for unknown names)."""
        threads = self.ffmpeg_threads or min(os.cpu_count() or 2, 16)
        return get_preset(name).model_copy(update={"threads": threads})


class _NamedDatabaseSettings(Settings):
    """Platform settings whose database for this service has an explicit name."""

    service_database: str

    def database_for(self, service: str) -> str:
        return self.service_database if service == SERVICE else super().database_for(service)


def platform_settings(config: RenderConfig, base: Settings | None = None) -> Settings:
    """The platform settings this instance runs with (its own database if one is configured)."""
    base = base or get_settings()
    if not config.database:
        return base
    return _NamedDatabaseSettings(**base.model_dump(), service_database=config.database)


@lru_cache(maxsize=1)
def get_config() -> RenderConfig:
    return RenderConfig()
