"""Settings of the ingest service (``CLIPFORGE_INGEST_*``), beside the platform's ``CLIPFORGE_*``.

Lists and maps are read as JSON (``CLIPFORGE_INGEST_TENANTS='["t1"]'``); lists also accept a
comma-separated string.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Annotated, Any

from clipforge_common.service_config import ServiceConfig, split_list
from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from clipforge_ingest.domain import IngestLimits, Resolver, system_resolver


class IngestConfig(ServiceConfig):
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

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return split_list(value)

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

    def resolver(self) -> Resolver:
        return overriding_resolver(self.dns_overrides)


def overriding_resolver(overrides: Mapping[str, Sequence[str]], fallback: Resolver = system_resolver) -> Resolver:
    """A resolver that answers ``overrides`` (case-insensitive host names) and asks ``fallback`` otherwise."""
    table = {host.lower().rstrip("."): list(addresses) for host, addresses in overrides.items()}

    def resolve(host: str, port: int) -> Sequence[str]:
        found = table.get(host.lower().rstrip("."))
        return found if found is not None else fallback(host, port)

    return resolve


@lru_cache(maxsize=1)
def get_config() -> IngestConfig:
    return IngestConfig()
