"""Settings of the ingest service (``CLIPFORGE_INGEST_*``), beside the platform's ``CLIPFORGE_*``.

Lists and maps are read as JSON (``CLIPFORGE_INGEST_TENANTS='["t1"]'``); lists also accept a
comma-separated string.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from clipforge_common.settings import Settings, get_settings
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clipforge_ingest.domain import IngestLimits, Resolver, system_resolver

SERVICE = "ingest"


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class IngestConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIPFORGE_INGEST_", extra="ignore")

    # Limits (see IngestLimits): a source beyond them is answered with video.ingest_failed.
    max_duration_s: float = Field(default=4 * 3600, gt=0)
    min_duration_s: float = Field(default=1.0, ge=0)
    max_size_bytes: int = Field(default=10 * 1024**3, gt=0)
    check_tail: bool = True

    # URL imports. Private ranges stay refused unless a deployment explicitly opens them.
    allow_private_urls: bool = False
    allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="extra networks URL imports may reach, e.g. an on-prem media server"
    )
    dns_overrides: dict[str, list[str]] = Field(
        default_factory=dict,
        description="host -> addresses used instead of DNS (a hosts file for URL imports; tests)",
    )
    download_timeout_s: float = Field(default=30.0, gt=0)
    use_ytdlp: bool = Field(default=True, description="pages (HTML) are handed to yt-dlp to find the media")

    # Deployment.
    group_id: str | None = Field(default=None, description="Kafka consumer group; default clipforge.ingest")
    database: str | None = Field(default=None, description="PostgreSQL database; default clipforge_ingest")
    tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="serve only these tenants (a dedicated instance with its own group_id); empty = all",
    )
    work_dir: Path | None = Field(default=None, description="scratch space for downloads; default the system temp")
    job_max_attempts: int = Field(default=3, ge=1)

    @field_validator("allowed_networks", "tenants", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # fail at start-up, not on the first import
        return value

    def limits(self) -> IngestLimits:
        return IngestLimits(
            max_duration_s=self.max_duration_s,
            min_duration_s=self.min_duration_s,
            max_size_bytes=self.max_size_bytes,
            check_tail=self.check_tail,
        )

    def serves(self, tenant_id: str) -> bool:
        return not self.tenants or tenant_id in self.tenants

    def resolver(self) -> Resolver:
        return overriding_resolver(self.dns_overrides)


def overriding_resolver(overrides: Mapping[str, Sequence[str]], fallback: Resolver = system_resolver) -> Resolver:
    """A resolver that answers ``overrides`` (case-insensitive host names) and asks ``fallback`` otherwise."""
    table = {host.lower().rstrip("."): list(addresses) for host, addresses in overrides.items()}

    def resolve(host: str, port: int) -> Sequence[str]:
        found = table.get(host.lower().rstrip("."))
        return found if found is not None else fallback(host, port)

    return resolve


class _NamedDatabaseSettings(Settings):
    """Platform settings whose database for this service has an explicit name."""

    service_database: str

    def database_for(self, service: str) -> str:
        return self.service_database if service == SERVICE else super().database_for(service)


def platform_settings(config: IngestConfig, base: Settings | None = None) -> Settings:
    """The platform settings this instance runs with (its own database if one is configured)."""
    base = base or get_settings()
    if not config.database:
        return base
    return _NamedDatabaseSettings(**base.model_dump(), service_database=config.database)


@lru_cache(maxsize=1)
def get_config() -> IngestConfig:
    return IngestConfig()
