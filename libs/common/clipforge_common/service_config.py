"""Per-instance deployment settings every service has, read as ``CLIPFORGE_<SERVICE>_*``.

Each service's own config subclasses :class:`ServiceConfig` and sets its ``env_prefix``; these
fields let an operator (or a test) run an extra instance with its own consumer group, database and
tenants beside the default one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def split_list(value: Any) -> Any:
    """A list setting given as a JSON list or a comma-separated string."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class ServiceConfig(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    group_id: str | None = Field(default=None, description="Kafka consumer group; default clipforge.<service>")
    database: str | None = Field(default=None, description="PostgreSQL database; default clipforge_<service>")
    tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="serve only these tenants (a dedicated instance with its own group_id); empty = all",
    )
    work_dir: Path | None = Field(default=None, description="scratch space for media; default the system temp")
    job_max_attempts: int = Field(default=3, ge=1)

    @field_validator("tenants", mode="before")
    @classmethod
    def _tenant_list(cls, value: Any) -> Any:
        return split_list(value)

    def serves(self, tenant_id: str) -> bool:
        return not self.tenants or tenant_id in self.tenants
