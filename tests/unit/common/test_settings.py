"""Platform settings that need more than a default."""

from __future__ import annotations

from clipforge_common.settings import Settings


def test_a_multi_broker_bootstrap_is_split_into_hosts() -> None:
    # FastStream treats one string as one host: "a:1,b:2" would be dialled as host "a:1,b" port 2.
    settings = Settings(kafka_bootstrap="127.0.0.1:29092, 127.0.0.1:29192,127.0.0.1:29292")
    assert settings.kafka_servers == ["127.0.0.1:29092", "127.0.0.1:29192", "127.0.0.1:29292"]
    assert Settings(kafka_bootstrap="127.0.0.1:9092").kafka_servers == ["127.0.0.1:9092"]
