"""A change inside a major version must be FULL compatible with the committed schemas.

By default the schema the models generate now is compared with every version of its file committed
in ``HEAD``'s history (``HEAD`` included), so the guard still means something in CI after the change
itself was committed. ``CLIPFORGE_CONTRACT_BASE=<revision>`` (for example ``origin/main`` on a
branch) compares with that one revision only. The second half proves the guard itself with
handmade schemas that must be flagged and ones that must pass.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clipforge_common.contract import event_schema, generated_files, schema_path
from clipforge_common.events import CATALOG, EventSpec
from clipforge_common.schema_compat import compatibility_errors

REPO = Path(__file__).resolve().parents[2]
PINNED_BASE = os.environ.get("CLIPFORGE_CONTRACT_BASE")
BASE = PINNED_BASE or "HEAD"
SCHEMA_FILE = re.compile(r"^schemas/[^/]+/v[0-9]+\.json$")


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot read the committed schemas")
    try:
        result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:  # pragma: no cover - broken git
        pytest.skip(f"git is unavailable: {exc}")
    return result


def _require_base() -> None:
    if _git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip(f"{REPO} is not a git checkout: nothing committed to compare with")
    if _git("rev-parse", "--verify", "--quiet", f"{BASE}^{{commit}}").returncode != 0:
        pytest.skip(f"git revision {BASE!r} does not exist (no commit yet?)")


def _committed_versions(rel: str) -> dict[str, dict[str, Any]]:
    """Distinct committed versions of ``rel``: short revision → schema (oldest first)."""
    _require_base()
    if _git("cat-file", "-e", f"{BASE}:{rel}").returncode != 0:
        pytest.skip(f"{rel} is not in {BASE} yet (a new event type or version): nothing to be compatible with")
    revisions = [BASE]
    if not PINNED_BASE:
        log = _git("log", "--format=%h", BASE, "--", rel)
        assert log.returncode == 0, log.stderr
        revisions = [*reversed(log.stdout.split()), BASE]
    versions: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for rev in revisions:
        shown = _git("show", f"{rev}:{rel}")
        if shown.returncode != 0 or shown.stdout in seen:  # deleted in that commit, or unchanged
            continue
        seen.add(shown.stdout)
        versions[rev] = json.loads(shown.stdout)
    return versions


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: f"{s.event_type}.v{s.version}")
def test_models_stay_compatible_with_committed_schema(spec: EventSpec) -> None:
    rel = f"schemas/{schema_path(spec)}"
    new = event_schema(spec)
    problems = [
        f"against {rev}: {error}"
        for rev, old in _committed_versions(rel).items()
        for error in compatibility_errors(old, new)
    ]
    assert not problems, (
        f"{spec.event_type} v{spec.version} changed incompatibly with its committed schema ({rel}):\n  "
        + "\n  ".join(problems)
        + f"\nInside a major version only optional fields may be added. Make {spec.event_type} "
        f"v{spec.version + 1} (a new model, topic and schema) with an upcaster from v{spec.version} instead."
    )


def test_no_committed_event_version_disappears() -> None:
    _require_base()
    listed = _git("ls-tree", "-r", "--name-only", BASE, "--", "schemas/")
    assert listed.returncode == 0, listed.stderr
    committed = {line for line in listed.stdout.splitlines() if SCHEMA_FILE.match(line)}
    if not committed:
        pytest.skip(f"no schemas/ committed in {BASE} yet")
    gone = sorted(committed - set(generated_files()))
    assert not gone, (
        f"event versions committed in {BASE} are no longer in the catalog: {gone}. Old events of these "
        "versions stay in the topics and must still be readable (keep the model and its upcaster)."
    )


# ---------------------------------------------------------------------- the guard itself

OLD: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "title": "Thing",
    "properties": {
        "id": {"type": "string", "description": "identifier"},
        "size": {"type": "integer", "minimum": 0},
        "kind": {"enum": ["upload", "url"], "type": "string"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "tags": {"type": "array", "items": {"type": "string"}},
        "source": {"$ref": "#/$defs/Source"},
        "created": {"type": "string", "format": "date-time"},
        "version": {"const": 1, "type": "integer"},
        "value": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "scores": {"type": "object", "additionalProperties": {"type": "number"}},
    },
    "required": ["id", "size", "kind", "source"],
    "additionalProperties": True,
    "$defs": {
        "Source": {
            "type": "object",
            "properties": {
                "key": {"type": "string"},
                "bytes": {"type": "integer"},
                "origin": {"$ref": "#/$defs/Origin"},
            },
            "required": ["key"],
        },
        "Origin": {"type": "object", "properties": {"host": {"type": "string"}}},
    },
}

Mutation = Callable[[dict[str, Any]], None]


def _props(s: dict[str, Any]) -> dict[str, Any]:
    return s["properties"]


def _src(s: dict[str, Any]) -> dict[str, Any]:
    return s["$defs"]["Source"]


def _add_required(s: dict[str, Any]) -> None:
    _props(s)["owner"] = {"type": "string"}
    s["required"].append("owner")


def _rename_def_and_change(s: dict[str, Any]) -> None:
    src = s["$defs"].pop("Source")
    src["properties"]["key"] = {"type": "integer"}
    s["$defs"]["SourceV2"] = src
    _props(s)["source"] = {"$ref": "#/$defs/SourceV2"}


MUST_FLAG: dict[str, tuple[Mutation, str]] = {
    "required field added": (_add_required, "owner: new required property"),
    "required field removed": (
        lambda s: (_props(s).pop("id"), s["required"].remove("id")),
        "id: required property removed",
    ),
    "optional field removed": (lambda s: _props(s).pop("note"), "note: property removed"),
    "field became required": (lambda s: s["required"].append("tags"), "tags: became required"),
    "field no longer required": (lambda s: s["required"].remove("size"), "size: no longer required"),
    "type changed": (lambda s: _props(s)["size"].update(type="number"), "size: type changed from integer to number"),
    "type changed string to integer": (lambda s: _props(s)["id"].update(type="integer"), "id: type changed"),
    "enum value removed": (lambda s: _props(s)["kind"].update(enum=["upload"]), "kind: enum values removed"),
    "enum value added": (lambda s: _props(s)["kind"].update(enum=["upload", "url", "s3"]), "kind: enum values added"),
    "enum replaced by free string": (lambda s: _props(s)["kind"].pop("enum"), "kind: no longer restricted"),
    "const changed": (lambda s: _props(s)["version"].update(const=2), "version: const changed from 1 to 2"),
    "nullable removed": (lambda s: _props(s).update(note={"type": "string"}), "note: no longer nullable"),
    "nullable added": (
        lambda s: _props(s).update(id={"anyOf": [{"type": "string"}, {"type": "null"}]}),
        "id: became nullable",
    ),
    "format changed": (lambda s: _props(s)["created"].update(format="date"), "created: format changed"),
    "format removed": (lambda s: _props(s)["created"].pop("format"), "created: format changed"),
    "bound narrowed": (lambda s: _props(s)["size"].update(minimum=1), "size: minimum changed from 0 to 1"),
    "bound added": (lambda s: _props(s)["id"].update(maxLength=10), "id: maxLength changed"),
    "additionalProperties tightened": (
        lambda s: s.update(additionalProperties=False),
        "(root): additionalProperties tightened to false",
    ),
    "map value type changed": (
        lambda s: _props(s)["scores"].update(additionalProperties={"type": "string"}),
        "scores{*}: type changed from number to string",
    ),
    "array item type changed": (
        lambda s: _props(s)["tags"].update(items={"type": "integer"}),
        "tags[]: type changed from string to integer",
    ),
    "union member dropped": (
        lambda s: _props(s).update(value={"type": "string"}),
        "value: type integer no longer accepted",
    ),
    "nested $defs type changed": (
        lambda s: _src(s)["properties"]["bytes"].update(type="string"),
        "source.bytes: type changed from integer to string",
    ),
    "nested $defs required added": (lambda s: _src(s)["required"].append("bytes"), "source.bytes: became required"),
    "doubly nested $defs changed": (
        lambda s: s["$defs"]["Origin"]["properties"]["host"].update(type="integer"),
        "source.origin.host: type changed",
    ),
    "renamed $def with a change": (_rename_def_and_change, "source.key: type changed from string to integer"),
}


@pytest.mark.parametrize("name", sorted(MUST_FLAG))
def test_incompatible_change_is_flagged(name: str) -> None:
    mutate, expected = MUST_FLAG[name]
    new = copy.deepcopy(OLD)
    mutate(new)
    errors = compatibility_errors(OLD, new)
    assert any(expected in e for e in errors), f"{name}: expected {expected!r} in {errors}"


def _add_optional(s: dict[str, Any]) -> None:
    _props(s)["thumbnail"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}


def _rename_def(s: dict[str, Any]) -> None:
    s["$defs"]["SourceRef"] = s["$defs"].pop("Source")
    _props(s)["source"] = {"$ref": "#/$defs/SourceRef", "description": "where it came from"}


def _inline_def(s: dict[str, Any]) -> None:
    _props(s)["source"] = copy.deepcopy(s["$defs"]["Source"])


MUST_PASS: dict[str, Mutation] = {
    "unchanged": lambda s: None,
    "optional field added": _add_optional,
    "optional field added in nested $defs": lambda s: _src(s)["properties"].update(etag={"type": "string"}),
    "description changed": lambda s: _props(s)["id"].update(description="the id, now documented better"),
    "title, examples, default and $comment changed": lambda s: (
        s.update(title="Renamed", **{"$comment": "regenerated"}),
        _props(s)["note"].update(default="n/a", examples=["hello"]),
    ),
    "x- extension changed": lambda s: s.update({"x-clipforge": {"topic": "t"}}),
    "enum reordered": lambda s: _props(s)["kind"].update(enum=["url", "upload"]),
    "$def renamed": _rename_def,
    "$ref inlined": _inline_def,
    "nullable spelled as a type list": lambda s: _props(s).update(note={"type": ["string", "null"]}),
    "single-value enum spelled as const": lambda s: _props(s).update(version={"enum": [1], "type": "integer"}),
}


@pytest.mark.parametrize("name", sorted(MUST_PASS))
def test_compatible_change_passes(name: str) -> None:
    new = copy.deepcopy(OLD)
    MUST_PASS[name](new)
    assert compatibility_errors(OLD, new) == []


def test_optional_field_added_where_old_readers_forbid_unknown_fields_is_flagged() -> None:
    old = copy.deepcopy(OLD)
    old["additionalProperties"] = False
    new = copy.deepcopy(old)
    _add_optional(new)
    assert compatibility_errors(old, new) == ["thumbnail: property added but old readers forbid unknown properties"]


def test_recursive_definitions_terminate() -> None:
    tree = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name"],
            }
        },
    }
    assert compatibility_errors(tree, copy.deepcopy(tree)) == []
    changed = copy.deepcopy(tree)
    changed["$defs"]["Node"]["properties"]["name"]["type"] = "integer"
    assert compatibility_errors(tree, changed) == ["name: type changed from string to integer"]


def test_errors_are_deterministic_and_name_every_problem() -> None:
    new = copy.deepcopy(OLD)
    _add_required(new)
    _props(new)["kind"]["enum"] = ["upload"]
    _src(new)["properties"]["bytes"]["type"] = "string"
    first = compatibility_errors(OLD, new)
    assert first == compatibility_errors(OLD, copy.deepcopy(new))
    assert first == [
        'kind: enum values removed: ["url"] (old records may hold them)',
        "owner: new required property (old records lack it)",
        "source.bytes: type changed from integer to string",
    ]


@pytest.mark.parametrize("spec", CATALOG[:3], ids=lambda s: s.event_type)
def test_guard_on_real_event_schemas(spec: EventSpec) -> None:
    """The generated shape ($defs payload, envelope with additionalProperties false) is guarded too."""
    old = event_schema(spec)
    payload = old["$defs"][spec.model.__name__]

    optional = copy.deepcopy(old)
    optional["$defs"][spec.model.__name__]["properties"]["new_optional"] = {"type": "string"}
    assert compatibility_errors(old, optional) == []

    required = copy.deepcopy(old)
    required["$defs"][spec.model.__name__]["properties"]["new_required"] = {"type": "string"}
    required["$defs"][spec.model.__name__].setdefault("required", []).append("new_required")
    assert compatibility_errors(old, required) == ["data.new_required: new required property (old records lack it)"]

    envelope_field = copy.deepcopy(old)
    envelope_field["properties"]["region"] = {"type": "string"}
    assert compatibility_errors(old, envelope_field) == [
        "region: property added but old readers forbid unknown properties"
    ]

    if payload.get("required"):
        name = sorted(payload["required"])[0]
        dropped = copy.deepcopy(old)
        dropped["$defs"][spec.model.__name__]["properties"].pop(name)
        dropped["$defs"][spec.model.__name__]["required"].remove(name)
        assert f"data.{name}: required property removed (old readers need it)" in compatibility_errors(old, dropped)
