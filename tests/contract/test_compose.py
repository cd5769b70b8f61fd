"""docker-compose.yml, the Dockerfile and the load balancer config agree with the settings and the design.

Docker cannot run here, so these checks parse the files; they do not start containers.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from clipforge_common.settings import SERVICES, Settings

REPO = Path(__file__).resolve().parents[2]
INFRA = ("kafka", "postgres", "redis", "s3")
APPS = ("ingest", "transcribe", "rank", "render", "gateway-1", "gateway-2")
LB = "lb"
# Settings a service needs to reach the infrastructure and to be reachable itself.
REQUIRED_SETTINGS = (
    "kafka_bootstrap",
    "pg_host",
    "pg_port",
    "pg_user",
    "pg_password",
    "redis_url",
    "s3_endpoint",
    "s3_access_key",
    "s3_secret_key",
    "s3_bucket",
    "http_host",
    "gateway_url",
)


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def services() -> dict[str, Any]:
    return compose()["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _published(service: dict[str, Any]) -> dict[int, int]:
    """host port → container port for the short syntax ``[ip:]host:container``."""
    out: dict[int, int] = {}
    for spec in service.get("ports", []):
        parts = str(spec).split("/")[0].split(":")
        out[int(parts[-2])] = int(parts[-1])
    return out


def _app_name(name: str) -> str:
    return name.split("-")[0]


def test_every_service_exists() -> None:
    assert set(INFRA) | set(APPS) | {LB} <= set(services())


@pytest.mark.parametrize("name", APPS)
def test_app_services_run_the_right_module_from_the_one_image(name: str) -> None:
    svc = services()[name]
    assert svc["build"]["context"] == "."
    assert svc["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    assert svc["command"] == ["python", "-m", f"clipforge_{_app_name(name)}"]
    assert _app_name(name) in SERVICES


@pytest.mark.parametrize("name", [*INFRA, *APPS, LB])
def test_every_service_has_a_healthcheck(name: str) -> None:
    check = services()[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"
    assert not check.get("disable")


@pytest.mark.parametrize("name", APPS)
def test_app_healthcheck_probes_its_own_port(name: str) -> None:
    test = " ".join(services()[name]["healthcheck"]["test"])
    port = Settings.model_fields[f"{_app_name(name)}_port"].default
    assert f"http://127.0.0.1:{port}/healthz" in test
    assert "urllib" in test


@pytest.mark.parametrize("name", APPS)
def test_apps_wait_for_healthy_infrastructure(name: str) -> None:
    depends = services()[name]["depends_on"]
    for infra in INFRA:
        assert depends[infra]["condition"] == "service_healthy", f"{name} → {infra}"


def test_load_balancer_waits_for_both_gateways_and_publishes_8000() -> None:
    lb = services()[LB]
    for gw in ("gateway-1", "gateway-2"):
        assert lb["depends_on"][gw]["condition"] == "service_healthy"
    assert _published(lb) == {Settings.model_fields["gateway_port"].default: 8000}


def test_compose_settings_are_real_and_complete() -> None:
    fields = {f"CLIPFORGE_{name.upper()}" for name in Settings.model_fields}
    for name in APPS:
        env = _env(services()[name])
        unknown = sorted(k for k in env if k.startswith("CLIPFORGE_") and k not in fields)
        assert not unknown, f"{name} sets variables no Settings field reads: {unknown}"
        missing = sorted(f"CLIPFORGE_{s.upper()}" for s in REQUIRED_SETTINGS if f"CLIPFORGE_{s.upper()}" not in env)
        assert not missing, f"{name} lacks {missing}"
        # Values must parse as the settings would (e.g. ports are integers).
        Settings(**{k.removeprefix("CLIPFORGE_").lower(): v for k, v in env.items() if k in fields})


@pytest.mark.parametrize("name", APPS)
def test_services_reach_infrastructure_by_container_name(name: str) -> None:
    env = _env(services()[name])
    names = set(services())
    kafka_host = env["CLIPFORGE_KAFKA_BOOTSTRAP"].split(",")[0].rsplit(":", 1)[0]
    assert kafka_host in names
    assert env["CLIPFORGE_PG_HOST"] in names
    assert urlsplit(env["CLIPFORGE_REDIS_URL"]).hostname in names
    assert urlsplit(env["CLIPFORGE_S3_ENDPOINT"]).hostname in names
    assert urlsplit(env["CLIPFORGE_GATEWAY_URL"]).hostname in names
    assert env["CLIPFORGE_HTTP_HOST"] == "0.0.0.0"


def test_credentials_match_the_infrastructure() -> None:
    env = _env(services()["ingest"])
    pg = _env(services()["postgres"])
    s3 = _env(services()["s3"])
    assert env["CLIPFORGE_PG_USER"] == pg["POSTGRES_USER"] == "clipforge"
    assert env["CLIPFORGE_PG_PASSWORD"] == pg["POSTGRES_PASSWORD"] == "clipforge"
    assert env["CLIPFORGE_S3_ACCESS_KEY"] == s3["S3PROXY_IDENTITY"] == Settings.model_fields["s3_access_key"].default
    assert env["CLIPFORGE_S3_SECRET_KEY"] == s3["S3PROXY_CREDENTIAL"] == Settings.model_fields["s3_secret_key"].default
    # The in-network ports match what the containers listen on.
    assert int(env["CLIPFORGE_PG_PORT"]) == 5432
    assert urlsplit(env["CLIPFORGE_S3_ENDPOINT"]).port == urlsplit(s3["S3PROXY_ENDPOINT"]).port


def test_published_ports_equal_the_settings_defaults() -> None:
    """Host-side clients with default settings work against compose exactly as against the native stack."""
    d = Settings.model_fields
    kafka_port = int(d["kafka_bootstrap"].default.rsplit(":", 1)[1])
    assert kafka_port in _published(services()["kafka"])
    assert _published(services()["postgres"]) == {d["pg_port"].default: 5432}
    assert _published(services()["redis"]) == {urlsplit(d["redis_url"].default).port: 6379}
    assert urlsplit(d["s3_endpoint"].default).port in _published(services()["s3"])
    assert urlsplit(d["gateway_url"].default).port in _published(services()[LB])


def test_kafka_is_kraft_combined_and_advertises_the_host_listener() -> None:
    kafka = services()["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "CLUSTER_ID" in env
    advertised = env["KAFKA_ADVERTISED_LISTENERS"]
    default = Settings.model_fields["kafka_bootstrap"].default
    assert f"//{default}" in advertised, "host clients with default settings must be sent back to 127.0.0.1:9092"
    in_network = _env(services()["ingest"])["CLIPFORGE_KAFKA_BOOTSTRAP"]
    assert f"//{in_network}" in advertised, "containers must be advertised an address they can reach"


def test_postgres_creates_the_five_databases() -> None:
    pg = services()["postgres"]
    assert str(pg["image"]).startswith("postgres:15")
    mounts = [str(v) for v in pg["volumes"] if "docker-entrypoint-initdb.d" in str(v)]
    assert mounts, "an init script creates the databases"
    script = (REPO / mounts[0].split(":")[0]).read_text()
    for svc in SERVICES:
        assert re.search(rf"CREATE DATABASE\s+\"?clipforge_{svc}\"?\s*;", script), svc


def test_redis_and_s3_images() -> None:
    assert str(services()["redis"]["image"]).startswith("redis:7")
    assert "s3proxy" in str(services()["s3"]["image"])


def test_load_balancer_config_references_both_gateways_and_upgrades_websockets() -> None:
    lb = services()[LB]
    mounts = [str(v).split(":")[0] for v in lb["volumes"]]
    configs = [REPO / m for m in mounts if (REPO / m).is_file()]
    assert configs, "the load balancer mounts a config file from the repository"
    text = "\n".join(p.read_text() for p in configs)
    for gw in ("gateway-1", "gateway-2"):
        assert re.search(rf"\b{gw}:8000\b", text), gw
    assert "proxy_set_header Upgrade $http_upgrade" in text
    assert re.search(r"proxy_set_header Connection \$connection_upgrade", text)
    assert "proxy_http_version 1.1" in text
    assert "listen 8000" in text


def test_dockerfile_installs_ffmpeg_and_the_project() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm\b", text, re.M)
    assert re.search(r"apt-get install[^\n]*\bffmpeg\b", text)
    assert "fonts-dejavu-core" in text
    assert re.search(r"pip install \.", text)
    ignore = (REPO / ".dockerignore").read_text().split()
    assert ".git" in ignore and ".clipforge" in ignore
