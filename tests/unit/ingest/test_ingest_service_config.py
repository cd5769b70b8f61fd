"""Ingest service settings: environment parsing, limits, tenant filter, DNS overrides and the per-instance
database."""

from __future__ import annotations

import pytest
from clipforge_ingest.config import IngestConfig, overriding_resolver
from clipforge_ingest.domain import UrlRefused, check_url
from clipforge_ingest.main import definition
from pydantic import ValidationError


def test_defaults_are_production_safe() -> None:
    config = IngestConfig()
    assert config.allow_private_urls is False
    assert config.allowed_networks == [] and config.dns_overrides == {}
    assert config.tenants == [] and config.serves("anyone")
    assert config.group_id is None and config.database is None


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFORGE_INGEST_MAX_DURATION_S", "600")
    monkeypatch.setenv("CLIPFORGE_INGEST_MAX_SIZE_BYTES", "1000000")
    monkeypatch.setenv("CLIPFORGE_INGEST_TENANTS", "t1, t2")
    monkeypatch.setenv("CLIPFORGE_INGEST_ALLOWED_NETWORKS", '["127.0.0.2/32", "fd12::/64"]')
    monkeypatch.setenv("CLIPFORGE_INGEST_DNS_OVERRIDES", '{"media.example.com": ["127.0.0.2"]}')
    monkeypatch.setenv("CLIPFORGE_INGEST_GROUP_ID", "clipforge.ingest.blue")
    config = IngestConfig()
    limits = config.limits()
    assert (limits.max_duration_s, limits.max_size_bytes) == (600, 1_000_000)
    assert config.tenants == ["t1", "t2"]
    assert config.serves("t2") and not config.serves("t3")
    assert config.allowed_networks == ["127.0.0.2/32", "fd12::/64"]
    assert config.dns_overrides == {"media.example.com": ["127.0.0.2"]}
    assert config.group_id == "clipforge.ingest.blue"


def test_a_bad_network_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFORGE_INGEST_ALLOWED_NETWORKS", "not-a-network")
    with pytest.raises(ValidationError):
        IngestConfig()


def test_dns_overrides_answer_first_and_fall_back() -> None:
    asked: list[str] = []

    def fallback(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["93.184.216.34"]

    resolve = overriding_resolver({"Media.Example.COM.": ["127.0.0.1"]}, fallback)
    assert resolve("media.example.com", 80) == ["127.0.0.1"]
    assert resolve("MEDIA.example.com.", 443) == ["127.0.0.1"]
    assert resolve("example.org", 80) == ["93.184.216.34"] and asked == ["example.org"]


def test_a_public_looking_name_on_loopback_is_refused_through_the_override() -> None:
    config = IngestConfig(dns_overrides={"cdn.example-videos.com": ["127.0.0.1"]})
    with pytest.raises(UrlRefused) as info:
        check_url("http://cdn.example-videos.com/talk.mp4", resolver=config.resolver())
    assert info.value.reason_code == "forbidden_address"


def test_an_instance_can_name_its_own_database_and_group() -> None:
    default = definition(IngestConfig())
    assert default.database is None and default.consumer_group == "clipforge.ingest"
    blue = definition(IngestConfig(database="clipforge_ingest_blue", group_id="blue"))
    assert blue.database == "clipforge_ingest_blue" and blue.consumer_group == "blue"
