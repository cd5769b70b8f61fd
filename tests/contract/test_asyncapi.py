"""schemas/asyncapi.yaml and schemas/topics.yaml describe every topic, and every reference resolves."""

from __future__ import annotations

import importlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from clipforge_common import __version__
from clipforge_common.contract import CONSUMES, OPERATOR, channel_id, schema_id
from clipforge_common.envelope import ENVELOPE_HEADER_FIELDS, Envelope
from clipforge_common.events import CATALOG, DOMAIN_EVENTS
from clipforge_common.schema_compat import iter_refs
from clipforge_common.settings import SERVICES
from clipforge_common.topics import topic_layout
from jsonschema import Draft7Validator, Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
ASYNCAPI_URI = "urn:clipforge:asyncapi"


@cache
def asyncapi() -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text())


@cache
def topics() -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / "topics.yaml").read_text())


def _pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"#{pointer} does not resolve (stuck at {part!r})"
        node = node[part]
    return node


def resolve(ref: str, doc: dict[str, Any], base: Path) -> Any:
    """Resolve a local (``#/…``) or relative-file (``./x/v1.json#/…``) reference."""
    target, _, fragment = ref.partition("#")
    if target:
        path = (base / target).resolve()
        assert path.is_file(), f"{ref} points at a missing file {path}"
        doc = json.loads(path.read_text())
    return _pointer(doc, fragment)


def _headers_validator(message_id: str) -> Draft7Validator:
    # AsyncAPI schemas are a superset of draft-07; refs inside resolve against the whole document.
    registry = Registry().with_resource(ASYNCAPI_URI, Resource.from_contents(asyncapi(), default_specification=DRAFT7))
    return Draft7Validator({"$ref": f"{ASYNCAPI_URI}#/components/messages/{message_id}/headers"}, registry=registry)


def _sample_envelope(event_type: str = "video.ingested", version: int = 1) -> Envelope:
    return Envelope(
        event_type=event_type,
        event_version=version,
        producer="ingest@0.1.0",
        tenant_id="t_acme",
        video_id="v_01",
        correlation_id="c_01",
        causation_id="0190f5b2-7c1e-7a3b-8d4e-0123456789ab",
        data={},
    )


# ------------------------------------------------------------------------------------- AsyncAPI


def test_asyncapi_version_info_and_server() -> None:
    doc = asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "ClipForge"
    assert doc["info"]["version"] == __version__
    assert doc["servers"]["local"] == {
        "host": "127.0.0.1:9092",
        "protocol": "kafka",
        "description": doc["servers"]["local"]["description"],
    }


def test_every_topic_of_the_catalog_is_a_channel_including_dlqs() -> None:
    channels = asyncapi()["channels"]
    addresses = {c["address"]: c for c in channels.values()}
    expected = topic_layout()
    assert {t.name for t in expected} == set(addresses)
    assert len(expected) == 2 * len(CATALOG)
    for topic in expected:
        channel = addresses[topic.name]
        assert channel_id(topic.name) in channels
        kafka = channel["bindings"]["kafka"]
        assert kafka["topic"] == topic.name
        assert kafka["partitions"] == topic.partitions
        assert kafka["topicConfiguration"]["retention.ms"] == topic.retention_ms
        assert topic.name.endswith(".dlq") == topic.dlq


def test_every_reference_resolves() -> None:
    doc = asyncapi()
    refs = list(iter_refs(doc))
    assert refs, "the document should use references"
    for ref in refs:
        resolve(ref, doc, SCHEMAS)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: f"{s.event_type}.v{s.version}")
def test_message_payloads_are_the_event_schemas(spec) -> None:
    doc = asyncapi()
    for topic in (spec.topic, spec.dlq_topic):
        cid = channel_id(topic)
        (message_ref,) = doc["channels"][cid]["messages"].values()
        message = resolve(message_ref["$ref"], doc, SCHEMAS)
        payload_ref = message["payload"]["$ref"]
        assert payload_ref == f"./{spec.event_type}/v{spec.version}.json"
        schema = resolve(payload_ref, doc, SCHEMAS)
        Draft202012Validator.check_schema(schema)
        assert schema["$id"] == schema_id(spec)
        assert schema["properties"]["event_type"]["const"] == spec.event_type
        # The payload's own references resolve inside its file.
        for ref in iter_refs(schema):
            resolve(ref, schema, SCHEMAS)


def test_operations_use_their_channel_messages() -> None:
    doc = asyncapi()
    assert doc["operations"]
    for op_id, op in doc["operations"].items():
        assert op["action"] in {"send", "receive"}, op_id
        channel_ref = op["channel"]["$ref"]
        resolve(channel_ref, doc, SCHEMAS)
        for message in op["messages"]:
            # AsyncAPI 3: an operation's messages must be messages of its channel.
            assert message["$ref"].startswith(channel_ref + "/messages/"), op_id
            resolve(message["$ref"], doc, SCHEMAS)


def test_operations_match_topics_yaml() -> None:
    doc = asyncapi()
    by_channel: dict[str, set[tuple[str, str]]] = {}
    for op in doc["operations"].values():
        address = resolve(op["channel"]["$ref"], doc, SCHEMAS)["address"]
        by_channel.setdefault(address, set()).add((op["tags"][0]["name"], op["action"]))
    for topic in topics()["topics"]:
        expected = {(p, "send") for p in topic["producers"]} | {(c, "receive") for c in topic["consumers"]}
        assert by_channel[topic["name"]] == expected, topic["name"]


def test_envelope_headers_schema_accepts_real_headers_and_traceparent() -> None:
    envelope = _sample_envelope()
    headers = {**envelope.headers(), "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    names = set(asyncapi()["components"]["schemas"]["EnvelopeHeaders"]["properties"])
    assert {"cf-" + f.replace("_", "-") for f in ENVELOPE_HEADER_FIELDS} | {"traceparent"} <= names
    validator = _headers_validator(channel_id("clipforge.video.ingested.v1"))
    validator.validate(headers)
    # Without causation (a first event), the header is simply absent.
    first = _sample_envelope().model_copy(update={"causation_id": None})
    validator.validate(first.headers())
    with pytest.raises(ValidationError):
        validator.validate({k: v for k, v in headers.items() if k != "cf-event-id"})
    with pytest.raises(ValidationError):
        validator.validate({**headers, "cf-event-type": "clips.ranked"})
    with pytest.raises(ValidationError):
        validator.validate({**headers, "traceparent": "not-a-traceparent"})


def test_dead_letter_headers_schema() -> None:
    headers = {
        **_sample_envelope().headers(),
        "cf-dlq-reason": "handler_error",
        "cf-dlq-error": "ValueError: boom",
        "cf-dlq-original-topic": "clipforge.video.ingested.v1",
        "cf-dlq-original-partition": "3",
        "cf-dlq-original-offset": "42",
        "cf-dlq-consumer-group": "clipforge.transcribe",
        "cf-dlq-attempts": "5",
        "cf-dlq-failed-at": "2025-01-01T00:00:00+00:00",
    }
    validator = _headers_validator(channel_id("clipforge.video.ingested.v1.dlq"))
    validator.validate(headers)
    with pytest.raises(ValidationError):
        validator.validate({k: v for k, v in headers.items() if k != "cf-dlq-reason"})


# ----------------------------------------------------------------------------------- topics.yaml


def test_topics_yaml_lists_every_topic_with_key_retention_and_dlq_flag() -> None:
    doc = topics()
    assert doc["key"] == "video_id"
    listed = {t["name"]: t for t in doc["topics"]}
    for topic in topic_layout(doc["default_partitions"]):
        entry = listed[topic.name]
        assert entry["partitions"] == topic.partitions
        assert entry["retention_ms"] == topic.retention_ms
        assert entry["dlq"] is topic.dlq
        assert entry["key"] == "video_id"
    progress = listed["clipforge.pipeline.progress.v1"]
    assert 0 < progress["retention_ms"] <= 24 * 3600 * 1000, "progress is ephemeral"
    assert listed["clipforge.video.ingested.v1"]["retention_ms"] == -1, "domain topics keep events forever"


EXPECTED_CONSUMERS = {
    # render keeps the per-video auto-render options; rank and render keep the media keys.
    "ingest.requested": {"gateway", "ingest", "render"},
    "video.ingested": {"gateway", "transcribe", "rank", "render"},
    "transcript.completed": {"gateway", "rank"},
    "rank.requested": {"gateway", "rank"},
    "clips.ranked": {"gateway", "render"},
    "render.requested": {"gateway", "render"},
    "video.deleted": set(SERVICES),
}


def test_topics_yaml_producers_and_consumers() -> None:
    listed = {t["name"]: t for t in topics()["topics"]}
    for spec in CATALOG:
        entry = listed[spec.topic]
        if spec.event_type in EXPECTED_CONSUMERS:
            assert set(entry["consumers"]) == EXPECTED_CONSUMERS[spec.event_type], spec.event_type
        if spec in DOMAIN_EVENTS:
            assert "gateway" in entry["consumers"], "the gateway projects every domain event"
        expected_producers = set(SERVICES) if spec.producer == "any" else {spec.producer}
        assert expected_producers <= set(entry["producers"])
        dlq = listed[spec.dlq_topic]
        assert dlq["source_topic"] == spec.topic
        assert set(dlq["producers"]) == set(entry["consumers"]), "consumers dead-letter what they give up on"
        assert dlq["consumers"] == [OPERATOR]


@pytest.mark.parametrize("service", SERVICES)
def test_services_consume_only_what_the_contract_says(service: str) -> None:
    """Each service's Kafka handlers must be declared consumers in the contract (topics.yaml)."""
    handlers = importlib.import_module(f"clipforge_{service}.main").definition().handlers
    undeclared = sorted(set(handlers) - set(CONSUMES[service]))
    assert not undeclared, (
        f"{service} handles {undeclared} but the contract does not list it as a consumer; "
        "update CONSUMES in clipforge_common/contract.py and regenerate schemas/"
    )
