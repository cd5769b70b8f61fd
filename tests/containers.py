"""The test stack in containers (testcontainers), used only where a Docker engine runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def container_stack() -> Iterator[dict[str, str]]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.minio import MinioContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
        PostgresContainer("postgres:15", username="clipforge", password="clipforge", dbname="postgres") as pg,
        RedisContainer("redis:7") as redis,
        MinioContainer(access_key="clipforge", secret_key="clipforge-secret") as minio,
    ):
        s3 = minio.get_config()
        env = {
            "CLIPFORGE_KAFKA_BOOTSTRAP": kafka.get_bootstrap_server(),
            "CLIPFORGE_PG_HOST": pg.get_container_host_ip(),
            "CLIPFORGE_PG_PORT": str(pg.get_exposed_port(5432)),
            "CLIPFORGE_PG_USER": "clipforge",
            "CLIPFORGE_PG_PASSWORD": "clipforge",
            "CLIPFORGE_REDIS_URL": f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
            "CLIPFORGE_S3_ENDPOINT": f"http://{s3['endpoint']}",
            "CLIPFORGE_S3_ACCESS_KEY": "clipforge",
            "CLIPFORGE_S3_SECRET_KEY": "clipforge-secret",
        }
        yield env
