"""Settings of the render service (``CLIPFORGE_RENDER_*``), beside the platform's ``CLIPFORGE_*``.

Deployment fields (consumer group, database, tenants, work dir, attempts) come from
:class:`~clipforge_common.service_config.ServiceConfig`.
"""

from __future__ import annotations

import os
from functools import lru_cache

from clipforge_common.service_config import ServiceConfig
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from clipforge_render.domain import PRESETS, ReframeConfig, VideoPreset, get_preset


class RenderConfig(ServiceConfig):
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


@lru_cache(maxsize=1)
def get_config() -> RenderConfig:
    return RenderConfig()
