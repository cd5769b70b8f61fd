"""Settings of the transcribe service (``CLIPFORGE_TRANSCRIBE_*``), beside the platform's ``CLIPFORGE_*``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from clipforge_common.settings import Settings, get_settings
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SERVICE = "transcribe"

EngineName = Literal["pocketsphinx", "faster-whisper", "assemblyai"]


class TranscribeConfig(BaseSettings):
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

    # Deployment.
    group_id: str | None = Field(default=None, description="Kafka consumer group; default clipforge.transcribe")
    database: str | None = Field(default=None, description="PostgreSQL database; default clipforge_transcribe")
    tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="serve only these tenants (a dedicated instance with its own group_id); empty = all",
    )
    work_dir: Path | None = Field(default=None, description="scratch space for audio; default the system temp")
    job_max_attempts: int = Field(default=3, ge=1)

    @field_validator("tenants", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    def serves(self, tenant_id: str) -> bool:
        return not self.tenants or tenant_id in self.tenants

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


class _NamedDatabaseSettings(Settings):
    """Platform settings whose database for this service has an explicit name."""

    service_database: str

    def database_for(self, service: str) -> str:
        return self.service_database if service == SERVICE else super().database_for(service)


def platform_settings(config: TranscribeConfig, base: Settings | None = None) -> Settings:
    """The platform settings this instance runs with (its own database if one is configured)."""
    base = base or get_settings()
    if not config.database:
        return base
    return _NamedDatabaseSettings(**base.model_dump(), service_database=config.database)


@lru_cache(maxsize=1)
def get_config() -> TranscribeConfig:
    return TranscribeConfig()
