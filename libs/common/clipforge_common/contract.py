"""The event contract generated from the models: JSON Schemas, topics.yaml and an AsyncAPI document.

The pydantic models in :mod:`clipforge_common.events` are the single source of truth; ``schemas/``
is their committed, reviewable projection. ``python -m clipforge_common.contract`` regenerates it and
``--check`` exits 1 when the committed files differ, which is what CI runs (with
``tests/contract``, which also checks that a change inside a major version stays compatible).

Everything here is a pure function of the code (never of the environment), so two runs produce
byte-identical files.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from clipforge_common import __version__
from clipforge_common.envelope import ENVELOPE_HEADER_FIELDS, HEADER_PREFIX, Envelope
from clipforge_common.events import CATALOG, DOMAIN_EVENTS, EventSpec
from clipforge_common.settings import SERVICES, Settings
from clipforge_common.topics import TopicConfig, topic_layout

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE_URL = "https://clipforge.dev/schemas"
SCHEMAS_DIR = "schemas"
TOPICS_FILE = "topics.yaml"
ASYNCAPI_FILE = "asyncapi.yaml"
PARTITION_KEY = "video_id"
REGENERATE_COMMAND = "python -m clipforge_common.contract"
GENERATED_NOTICE = f"Generated from the pydantic models by `{REGENERATE_COMMAND}`; do not edit by hand."

# The operator CLI (`clipforge replay …`): it re-requests ranking and drains dead-letter topics.
OPERATOR = "cli"

# Which service consumes which event types. Kept here rather than imported from the services so the
# shared library never depends on them; tests/contract checks the services' handlers against it.
_EVERY_SERVICE_CONSUMES = ("video.deleted",)  # the tombstone: every service forgets the video
CONSUMES: dict[str, tuple[str, ...]] = {
    # The gateway projects every domain event into its read models and relays progress to clients.
    "gateway": (*(s.event_type for s in DOMAIN_EVENTS), "pipeline.progress"),
    "ingest": ("ingest.requested", *_EVERY_SERVICE_CONSUMES),
    "transcribe": ("video.ingested", *_EVERY_SERVICE_CONSUMES),
    # rank keeps the audio key of video.ingested (loudness features); render keeps the source key
    # and the per-video auto-render options (top_k, preset) of ingest.requested.
    "rank": ("video.ingested", "transcript.completed", "rank.requested", *_EVERY_SERVICE_CONSUMES),
    "render": ("ingest.requested", "video.ingested", "clips.ranked", "render.requested", *_EVERY_SERVICE_CONSUMES),
}
# Producers besides EventSpec.producer ("any" in the catalog means every service).
EXTRA_PRODUCERS: dict[str, tuple[str, ...]] = {"rank.requested": (OPERATOR,)}

# W3C Trace Context: version-traceid-parentid-flags.
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
# Headers the consumer adds when it dead-letters a record (clipforge_common.consumer._to_dlq).
DLQ_HEADERS: dict[str, str] = {
    "cf-dlq-reason": "machine-readable cause, e.g. handler_error",
    "cf-dlq-error": "the error message (at most 2000 characters)",
    "cf-dlq-original-topic": "topic the record was read from",
    "cf-dlq-original-partition": "partition the record was read from",
    "cf-dlq-original-offset": "offset the record was read at",
    "cf-dlq-consumer-group": "consumer group that gave up on the record",
    "cf-dlq-attempts": "how many times the handler ran",
    "cf-dlq-failed-at": "UTC time of the last attempt (ISO 8601)",
}


# --------------------------------------------------------------------------------------- helpers


def schema_path(spec: EventSpec) -> str:
    """Path of an event's schema relative to ``schemas/``: ``<type>/v<N>.json``."""
    return f"{spec.event_type}/v{spec.version}.json"


def schema_id(spec: EventSpec) -> str:
    return f"{SCHEMA_BASE_URL}/{schema_path(spec)}"


def _default_partitions() -> int:
    # The field default, not Settings(): the committed files must not depend on the environment.
    return int(Settings.model_fields["kafka_partitions"].default)


def _producers(spec: EventSpec) -> list[str]:
    base = list(SERVICES) if spec.producer == "any" else [spec.producer]
    return _ordered({*base, *EXTRA_PRODUCERS.get(spec.event_type, ())})


def _consumers(spec: EventSpec) -> list[str]:
    return _ordered({svc for svc, types in CONSUMES.items() if spec.event_type in types})


def _ordered(names: Iterable[str]) -> list[str]:
    """Services in their canonical order (SERVICES), then anything else alphabetically."""
    rank = {name: i for i, name in enumerate(SERVICES)}
    return sorted(set(names), key=lambda n: (rank.get(n, len(rank)), n))


def _spec_for_topic(topic: TopicConfig) -> EventSpec:
    return next(s for s in CATALOG if s.event_type == topic.event_type and s.version == topic.version)


def _topic_producers(topic: TopicConfig) -> list[str]:
    spec = _spec_for_topic(topic)
    # A dead-letter topic is written by whoever gave up consuming its source topic.
    return _consumers(spec) if topic.dlq else _producers(spec)


def _topic_consumers(topic: TopicConfig) -> list[str]:
    spec = _spec_for_topic(topic)
    return [OPERATOR] if topic.dlq else _consumers(spec)


def dump_json(doc: Any) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dump_yaml(doc: Any) -> str:
    """Stable YAML text that keeps the documents' reading order, with a do-not-edit header."""
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    return f"# {GENERATED_NOTICE}\n{body}"


# ----------------------------------------------------------------------------------- JSON Schema


def _envelope_properties() -> tuple[dict[str, Any], list[str]]:
    schema = Envelope.model_json_schema()
    properties = schema["properties"]
    # On the wire every field is written; only the ones that may be null are optional.
    required = [name for name, field in Envelope.model_fields.items() if field.default is not None]
    return properties, required


def event_schema(spec: EventSpec) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one on-the-wire record: the envelope with its payload."""
    payload = copy.deepcopy(spec.model.model_json_schema(ref_template="#/$defs/{model}"))
    defs: dict[str, Any] = payload.pop("$defs", {})
    payload_name = spec.model.__name__
    if payload_name in defs:  # pragma: no cover - a model nested in itself would be a catalog bug
        raise ValueError(f"{payload_name} is both the payload and one of its nested models")
    defs[payload_name] = payload

    properties, required = _envelope_properties()
    properties["event_type"] = {
        "const": spec.event_type,
        "description": "type of the event",
        "title": "Event Type",
        "type": "string",
    }
    properties["event_version"] = {
        "const": spec.version,
        "description": "major version of the payload schema",
        "title": "Event Version",
        "type": "integer",
    }
    properties["data"] = {"$ref": f"#/$defs/{payload_name}", "description": "the payload"}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id(spec),
        "$comment": f"{GENERATED_NOTICE} Source: {spec.model.__module__}.{payload_name}.",
        "title": f"{spec.event_type} v{spec.version}",
        "description": spec.summary,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$defs": defs,
        "x-clipforge": {
            "topic": spec.topic,
            "dlq_topic": spec.dlq_topic,
            "key": PARTITION_KEY,
            "producers": _producers(spec),
            "consumers": _consumers(spec),
        },
    }


# ------------------------------------------------------------------------------------ topics.yaml


def topics_document() -> dict[str, Any]:
    """The topic layout with retention, key, schema and who writes and reads each topic."""
    topics: list[dict[str, Any]] = []
    for topic in topic_layout(_default_partitions()):
        spec = _spec_for_topic(topic)
        entry = topic.as_dict()
        entry["cleanup_policy"] = "delete"
        entry["key"] = PARTITION_KEY
        entry["schema"] = schema_path(spec)
        if topic.dlq:
            entry["source_topic"] = spec.topic
        else:
            entry["dlq_topic"] = spec.dlq_topic
        entry["producers"] = _topic_producers(topic)
        entry["consumers"] = _topic_consumers(topic)
        topics.append(entry)
    return {
        "version": 1,
        "description": (
            "One topic per event type and major version, plus a dead-letter topic each. Every record is "
            "keyed by video_id so the events of a video keep their order. retention_ms -1 keeps records "
            "forever (domain topics are the system of record). Dead-letter topics are drained by the "
            f"operator CLI ({OPERATOR}), which redrives records to their source_topic."
        ),
        "key": PARTITION_KEY,
        "default_partitions": _default_partitions(),
        "consumer_groups": {svc: f"clipforge.{svc}" for svc in SERVICES},
        "topics": topics,
    }


# ----------------------------------------------------------------------------------- AsyncAPI 3.0


def channel_id(topic: str) -> str:
    """AsyncAPI ids allow ``[A-Za-z0-9_-]``: ``clipforge.video.ingested.v1.dlq`` → ``video-ingested-v1-dlq``."""
    return re.sub(r"[^A-Za-z0-9_]+", "-", topic.removeprefix("clipforge."))


def _header_schemas() -> dict[str, Any]:
    envelope_props = Envelope.model_json_schema()["properties"]
    props: dict[str, Any] = {}
    required: list[str] = []
    for name in ENVELOPE_HEADER_FIELDS:
        header = HEADER_PREFIX + name.replace("_", "-")
        description = envelope_props[name].get("description") or name.replace("_", " ")
        prop: dict[str, Any] = {"type": "string", "description": f"envelope {name}: {description}"}
        if name == "occurred_at":
            prop["format"] = "date-time"
        if name == "event_version":
            prop["pattern"] = "^[1-9][0-9]*$"
        props[header] = prop
        # Envelope.headers() leaves out empty values, so a nullable field may be absent.
        if Envelope.model_fields[name].default is not None:
            required.append(header)
    props["traceparent"] = {
        "type": "string",
        "pattern": TRACEPARENT_PATTERN,
        "description": "W3C Trace Context of the span that produced the record",
    }
    envelope_headers = {
        "type": "object",
        "description": "Kafka headers mirroring the envelope, so tracing, dedupe and routing need no body decoding.",
        "properties": props,
        "required": required,
        "additionalProperties": {"type": "string"},
    }
    dead_letter_props = {k: {"type": "string", "description": v} for k, v in DLQ_HEADERS.items()}
    # A poison record may lack the envelope headers, so only the dead-letter ones are required.
    dead_letter_headers = {
        "type": "object",
        "description": "Headers of a dead-lettered record: the original ones plus why it was given up.",
        "properties": {**props, **dead_letter_props},
        "required": list(DLQ_HEADERS),
        "additionalProperties": {"type": "string"},
    }
    return {"EnvelopeHeaders": envelope_headers, "DeadLetterHeaders": dead_letter_headers}


def _message_id(spec: EventSpec, dlq: bool) -> str:
    return channel_id(spec.dlq_topic if dlq else spec.topic)


def _message(spec: EventSpec, dlq: bool) -> dict[str, Any]:
    headers: dict[str, Any]
    if dlq:
        headers = {"$ref": "#/components/schemas/DeadLetterHeaders"}
    else:
        headers = {
            "allOf": [
                {"$ref": "#/components/schemas/EnvelopeHeaders"},
                {
                    "type": "object",
                    "properties": {
                        "cf-event-type": {"const": spec.event_type},
                        "cf-event-version": {"const": str(spec.version)},
                    },
                },
            ]
        }
    summary = spec.summary if not dlq else f"Dead letter of {spec.event_type} v{spec.version}."
    message: dict[str, Any] = {
        "name": f"{spec.event_type}.v{spec.version}" + (".dlq" if dlq else ""),
        "title": f"{spec.event_type} v{spec.version}" + (" (dead letter)" if dlq else ""),
        "summary": summary,
        "contentType": "application/json",
        "headers": headers,
        "payload": {"$ref": f"./{schema_path(spec)}"},
        "correlationId": {
            "description": "one per user request, carried through the whole pipeline",
            "location": "$message.header#/cf-correlation-id",
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "video_id: every event of a video keeps its order"},
                "bindingVersion": "0.5.0",
            }
        },
    }
    if dlq:
        message["description"] = (
            "The original record, unchanged (body, key and headers), plus cf-dlq-* headers. A poison record's "
            "body may not match the schema; that is why it was dead-lettered."
        )
    return message


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0.0 document of every topic; payloads reference the JSON Schema files beside it."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    per_service: dict[str, list[tuple[str, str, str]]] = {}

    for topic in topic_layout(_default_partitions()):
        spec = _spec_for_topic(topic)
        cid = channel_id(topic.name)
        mid = _message_id(spec, topic.dlq)
        messages[mid] = _message(spec, topic.dlq)
        if topic.dlq:
            description = f"Dead letters of {spec.topic}; drained and redriven by the operator CLI."
        else:
            description = spec.summary
        channels[cid] = {
            "address": topic.name,
            "title": topic.name,
            "description": description,
            "messages": {mid: {"$ref": f"#/components/messages/{mid}"}},
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": topic.retention_ms},
                    "bindingVersion": "0.5.0",
                }
            },
        }
        for svc in _topic_producers(topic):
            per_service.setdefault(svc, []).append(("send", cid, mid))
        for svc in _topic_consumers(topic):
            per_service.setdefault(svc, []).append(("receive", cid, mid))

    for svc in _ordered(per_service):
        for action, cid, mid in per_service[svc]:
            op: dict[str, Any] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{cid}"},
                "title": f"{svc} {action}s {channels[cid]['address']}",
                "messages": [{"$ref": f"#/channels/{cid}/messages/{mid}"}],
                "tags": [{"name": svc}],
            }
            if action == "receive" and svc in SERVICES:
                op["bindings"] = {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [f"clipforge.{svc}"]},
                        "bindingVersion": "0.5.0",
                    }
                }
            operations[f"{svc}-{action}-{cid}"] = op

    return {
        "asyncapi": "3.0.0",
        "id": "urn:clipforge:events",
        "info": {
            "title": "ClipForge",
            "version": __version__,
            "description": (
                "Events of the ClipForge pipeline. One Kafka topic per event type and major version, keyed by "
                "video_id; the envelope fields are mirrored in cf-* headers and W3C traceparent travels in "
                f"headers. Payload schemas are the JSON Schema files beside this document. {GENERATED_NOTICE}"
            ),
            "tags": [{"name": svc} for svc in [*SERVICES, OPERATOR]],
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": Settings.model_fields["kafka_bootstrap"].default,
                "protocol": "kafka",
                "description": "The local stack (`clipforge stack up` or docker compose).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _header_schemas()},
    }


# ------------------------------------------------------------------------------ files and the CLI


def generated_files() -> dict[str, str]:
    """Every generated file: path relative to the repository root → exact text."""
    files = {f"{SCHEMAS_DIR}/{schema_path(spec)}": dump_json(event_schema(spec)) for spec in CATALOG}
    files[f"{SCHEMAS_DIR}/{TOPICS_FILE}"] = dump_yaml(topics_document())
    files[f"{SCHEMAS_DIR}/{ASYNCAPI_FILE}"] = dump_yaml(asyncapi_document())
    return dict(sorted(files.items()))


# Only files of the generated kinds count as stale, so a hand-written README under schemas/ is safe.
_GENERATED_PATTERN = re.compile(
    rf"^{SCHEMAS_DIR}/([^/]+/v[0-9]+\.json|{re.escape(TOPICS_FILE)}|{re.escape(ASYNCAPI_FILE)})$"
)


def _existing_files(root: Path) -> set[str]:
    base = root / SCHEMAS_DIR
    if not base.is_dir():
        return set()
    found = {p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file()}
    return {rel for rel in found if _GENERATED_PATTERN.match(rel)}


def diff_against(root: Path) -> list[str]:
    """What is out of date under ``root/schemas``: ``"<path>: missing|differs|stale"``, sorted."""
    expected = generated_files()
    problems: list[str] = []
    for rel, text in expected.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{rel}: differs")
    for rel in sorted(_existing_files(root) - set(expected)):
        problems.append(f"{rel}: stale (no model generates it)")
    return sorted(problems)


def write_all(root: Path) -> list[str]:
    """Write every generated file under ``root`` and delete stale ones; return the paths changed."""
    expected = generated_files()
    changed: list[str] = []
    for rel, text in expected.items():
        path = root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(rel)
    for rel in sorted(_existing_files(root) - set(expected)):
        (root / rel).unlink()
        changed.append(rel)
        parent = (root / rel).parent
        if parent != root / SCHEMAS_DIR and not any(parent.iterdir()):
            parent.rmdir()
    return changed


def find_repo_root(start: Path | None = None) -> Path:
    """The checkout holding ``libs/common``: from ``start`` (default cwd) upwards, else from this file."""
    candidates = [start or Path.cwd(), Path(__file__).resolve()]
    for candidate in candidates:
        for parent in [candidate, *candidate.parents]:
            if (parent / "pyproject.toml").is_file() and (parent / "libs" / "common").is_dir():
                return parent
    raise FileNotFoundError("no ClipForge checkout found (pyproject.toml beside libs/common); pass --root")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE_COMMAND, description="Generate schemas/ from the models.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if schemas/ is out of date")
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: found from cwd)")
    args = parser.parse_args(argv)
    root = args.root or find_repo_root()
    if args.check:
        problems = diff_against(root)
        if problems:
            print(f"schemas/ is out of date with the models; run `{REGENERATE_COMMAND}`:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"schemas/ is up to date ({len(generated_files())} files)")
        return 0
    changed = write_all(root)
    for rel in changed:
        print(f"wrote {rel}" if (root / rel).exists() else f"removed {rel}")
    print(f"{len(changed)} file(s) changed under {root / SCHEMAS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
