"""Settings of the transcribe service (``CLIPFORGE_TRANSCRIBE_*``), beside the platform's ``CLIPFORGE_*``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from clipforge_common.service_config import ServiceConfig
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

EngineName = Literal["pocketsphinx", "faster-whisper", "assemblyai"]


class TranscribeConfig(ServiceConfig):
    model_config = SettingsConfigDict(env_prefix="CLIPFORGE_TRANSCRIBE_", extra="ignore", populate_by_name=True)

    engine: EngineName = Field(default="pocketsphinx", description="ASR engine; recorded in every transcript")
    language: str = "en"
    chunk_seconds: float = Field(default=30.0, gt=1, description="audio per decoder call (bounded memory)")

    # AssemblyAI (HTTP API). The un-prefixed names are accepted too, as the engine's own docs use them.
    assemblyai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CLIPFORGE_TRANSCRIBE_ASSEMBLYAI_API_KEY", "CLIPFORGE_ASSEMBLYAI_API_KEY"),
    )
    assemblyai_base_url: str = "https://api.assemblyai.com"
    assemblyai_poll_seconds: float = Field(default=3.0, gt=0)

    # faster-whisper (optional extra): a model directory already on disk; never downloaded.
    whisper_model: Path | None = Field(
        default=None, validation_alias=AliasChoices("CLIPFORGE_TRANSCRIBE_WHISPER_MODEL", "CLIPFORGE_WHISPER_MODEL")
    )
    whisper_device: str = "cpu"
    whisper_compute_type: str = "int8"

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments of ``make_engine`` for the configured engine."""
        if self.engine == "assemblyai":
            return {
                "api_key": self.assemblyai_api_key.get_secret_value() if self.assemblyai_api_key else "",
                "base_url": self.assemblyai_base_url,
                "language": self.language,
                "poll_interval": self.assemblyai_poll_seconds,
            }
        if self.engine == "faster-whisper":
            return {
                "model_path": self.whisper_model,
                "device": self.whisper_device,
                "compute_type": self.whisper_compute_type,
                "language": self.language,
            }
        return {}


@lru_cache(maxsize=1)
def get_config() -> TranscribeConfig:
    return TranscribeConfig()
