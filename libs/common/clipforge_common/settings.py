"""Settings for every ClipForge process, read from ``CLIPFORGE_*`` environment variables.

Defaults point at the native local stack (`clipforge stack up`), so a fresh checkout needs no
configuration. Each service reads the same model; service-specific values are prefixed by the
service name (for example ``CLIPFORGE_RENDER_TOP_K``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES: tuple[str, ...] = ("gateway", "ingest", "transcribe", "rank", "render")


def _default_home() -> Path:
    """State lives beside the checkout when running from source, else in the user's home."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "libs" / "common").is_dir():
            return parent / ".clipforge"
    return Path.home() / ".clipforge"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIPFORGE_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="state, logs and caches")
    env: str = "local"

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_partitions: int = 6
    kafka_replication_factor: int | None = Field(
        default=None, description="replication of created topics; default min(3, brokers in the cluster)"
    )
    kafka_client_id: str = "clipforge"
    kafka_heap: str = Field(default="768m", description="JVM heap of each broker the local stack starts")

    # PostgreSQL: one database per service named clipforge_<service> on this server.
    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_user: str = "clipforge"
    pg_password: str = "clipforge"
    pg_pool_min: int = 1
    pg_pool_max: int = 5

    # Redis
    redis_url: str = "redis://127.0.0.1:56379/0"

    # S3-compatible object store (path-style addressing)
    s3_endpoint: str = "http://127.0.0.1:59000"
    s3_region: str = "us-east-1"
    s3_access_key: str = "clipforge"
    s3_secret_key: str = "clipforge-secret"
    s3_bucket: str = "clipforge"
    s3_multipart_chunk_mb: int = 5
    s3_presign_seconds: int = 3600

    # HTTP
    gateway_url: str = "http://127.0.0.1:8000"
    http_host: str = "127.0.0.1"
    # Each service's health/metrics port: gateway serves on 8000, the others on 8001..8004.
    ingest_port: int = 8001
    transcribe_port: int = 8002
    rank_port: int = 8003
    render_port: int = 8004
    gateway_port: int = 8000

    # Jobs (long work) and retries
    job_lease_seconds: float = 60.0
    job_poll_seconds: float = 0.5
    job_max_attempts: int = 3
    worker_concurrency: int = 1
    handler_max_retries: int = 5
    handler_retry_base_seconds: float = 0.2
    outbox_poll_seconds: float = 0.2

    # Telemetry / logging
    log_level: str = "INFO"
    log_json: bool = True
    otel_exporter: str = Field(default="none", description="none | console")

    def pg_dsn(self, database: str) -> str:
        return f"postgresql://{self.pg_user}:{self.pg_password}@{self.pg_host}:{self.pg_port}/{database}"

    @property
    def kafka_servers(self) -> list[str]:
        """The bootstrap list: FastStream takes a one-string bootstrap as a single host."""
        return [host.strip() for host in self.kafka_bootstrap.split(",") if host.strip()]

    def database_for(self, service: str) -> str:
        return f"clipforge_{service}"

    def service_port(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change CLIPFORGE_* variables at run time; this drops the cached instance."""
    get_settings.cache_clear()
