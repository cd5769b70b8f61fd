"""The committed schemas/ must be exactly what the pydantic models generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clipforge_common.contract import (
    REGENERATE_COMMAND,
    SCHEMA_BASE_URL,
    diff_against,
    event_schema,
    generated_files,
    schema_path,
    write_all,
)
from clipforge_common.events import CATALOG
from clipforge_common.schema_compat import iter_refs
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]


def test_committed_schemas_match_the_models() -> None:
    problems = diff_against(REPO)
    assert not problems, (
        "schemas/ is out of date with the pydantic models:\n  "
        + "\n  ".join(problems)
        + f"\nRegenerate with `{REGENERATE_COMMAND}`, review the diff and commit it."
    )


def test_generation_is_deterministic() -> None:
    assert generated_files() == generated_files()
    for text in generated_files().values():
        assert text.endswith("\n") and not text.endswith("\n\n")


def test_every_catalog_event_has_a_schema_file() -> None:
    files = generated_files()
    for spec in CATALOG:
        assert f"schemas/{schema_path(spec)}" in files
    assert "schemas/topics.yaml" in files
    assert "schemas/asyncapi.yaml" in files


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: f"{s.event_type}.v{s.version}")
def test_event_schema_is_valid_2020_12(spec) -> None:
    schema = event_schema(spec)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"{SCHEMA_BASE_URL}/{spec.event_type}/v{spec.version}.json"
    assert schema["properties"]["event_type"]["const"] == spec.event_type
    assert schema["properties"]["event_version"]["const"] == spec.version
    assert schema["description"] == spec.summary
    # Every reference points into the document's own $defs.
    for ref in iter_refs(schema):
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref
    # The committed file is the sorted, indented JSON of the same document.
    committed = REPO / "schemas" / schema_path(spec)
    if committed.is_file():
        assert json.loads(committed.read_text()) == schema


def test_check_and_write_round_trip(tmp_path: Path) -> None:
    # A fresh tree: everything missing; after write_all nothing differs; a stale file is reported and removed.
    assert all(p.endswith(": missing") for p in diff_against(tmp_path))
    write_all(tmp_path)
    assert diff_against(tmp_path) == []
    stale = tmp_path / "schemas" / "gone.event" / "v1.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    (tmp_path / "schemas" / "README.md").write_text("hand-written, not generated\n")
    (tmp_path / "schemas" / "topics.yaml").write_text("# edited by hand\n")
    assert diff_against(tmp_path) == [
        "schemas/gone.event/v1.json: stale (no model generates it)",
        "schemas/topics.yaml: differs",
    ]
    changed = write_all(tmp_path)
    assert sorted(changed) == ["schemas/gone.event/v1.json", "schemas/topics.yaml"]
    assert not stale.exists()
    assert (tmp_path / "schemas" / "README.md").exists()
    assert diff_against(tmp_path) == []


def test_cli_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clipforge_common.contract import main

    assert main(["--check", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert REGENERATE_COMMAND in err and "schemas/video.ingested/v1.json: missing" in err
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
