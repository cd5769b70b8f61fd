"""Bad input over HTTP: whatever a client sends, the gateway answers with a JSON error carrying a code,
never a 5xx, never crashes, and stays healthy.

Two halves against one real gateway process on the real stack:

* schemathesis generates requests from the gateway's own OpenAPI document (positive and negative data,
  every operation, then stateful sequences along the links it infers plus the ones added here), all
  authenticated with a real key. The run is derandomized with a fixed seed (``CLIPFORGE_FUZZ_SEED``
  overrides it), so a failure replays;
* hand-written cases for what a schema cannot describe: oversized and truncated uploads, wrong
  content types, malformed multipart, path-traversal file names, invalid UTF-8, a huge JSON body,
  negative or NaN numbers, unknown ids, SQL-looking strings.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from clipforge_common.storage import ObjectStore
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.resilience.gateway_process import MAX_UPLOAD, GatewayProcess, gateway_fixture, run_async
from tests.resilience.report import ScenarioResult

gateway = gateway_fixture()

SEED = int(os.environ.get("CLIPFORGE_FUZZ_SEED", "20260106"))
MAX_EXAMPLES = int(os.environ.get("CLIPFORGE_FUZZ_EXAMPLES", "100"))
STATEFUL_SCENARIOS = int(os.environ.get("CLIPFORGE_FUZZ_SCENARIOS", "50"))

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


# ------------------------------------------------------------------------------------- checks


def error_code_of(status: int, body: bytes, content_type: str) -> str | None:
    """The ``error.code`` of an error body, or None when it is not the documented shape."""
    if status < 400 or "json" not in content_type:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str) or not error.get("message"):
        return None
    return error["code"]


def error_json_has_code(ctx: CheckContext, response: schemathesis.Response, case: Case) -> bool | None:
    if response.status_code < 400:
        return None
    if error_code_of(response.status_code, response.content, response.headers.get("content-type", [""])[0]) is None:
        raise AssertionError(
            f"{case.operation.label}: {response.status_code} without a JSON error code: {response.content[:300]!r}"
        )
    return None


# Every check schemathesis has (server errors, status codes, content types and response schemas as
# documented, negative data rejected, the Allow header, auth not ignored, deleted resources gone...)
# plus ours. The one exception: an upload's type is sniffed from its bytes, which no schema can say,
# so a schema-valid upload of random bytes is rightly refused (415).
EXTRA_CHECKS = [error_json_has_code]
EXCLUDED: dict[str, list[Any]] = {"POST /v1/projects/{project_id}/videos": [positive_data_acceptance]}


def validate(case: Case, response: schemathesis.Response) -> None:
    case.validate_response(
        response, additional_checks=EXTRA_CHECKS, excluded_checks=EXCLUDED.get(case.operation.label, [])
    )


# ------------------------------------------------------------------------------------- schema


def video_links(raw: dict[str, Any]) -> int:
    """Add OpenAPI links from the operations creating a video (upload, import) to those taking its id.

    schemathesis infers links from path parameters and response schemas, but not from a 202
    ``VideoAccepted`` to ``/v1/videos/{video_id}``; without them the stateful phase never reaches a
    real video.
    """
    targets = {
        op["operationId"]: path
        for path, ops in raw["paths"].items()
        for op in ops.values()
        if path.startswith("/v1/videos/{video_id}") and path.count("{") == 1
    }
    added = 0
    for path in ("/v1/projects/{project_id}/imports", "/v1/projects/{project_id}/videos"):
        accepted = raw["paths"][path]["post"]["responses"]["202"]
        links = accepted.setdefault("links", {})
        for operation_id in targets:
            links[f"to_{operation_id}"] = {
                "operationId": operation_id,
                "parameters": {"video_id": "$response.body#/video_id"},
            }
            added += 1
    return added


STATS: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def record(label: str, response: schemathesis.Response) -> None:
    STATS[label]["examples"] += 1
    STATS[label][f"status_{response.status_code}"] += 1


@pytest.fixture(scope="module")
def api_key(gateway: GatewayProcess) -> str:
    # A generous per-key limit: the fuzzer is not testing rate limiting (tests/integration does).
    return run_async(gateway.new_key("fuzz-" + uuid.uuid4().hex[:8], rate_limit_per_minute=1_000_000))


def openapi_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, built from its app (no server needed at collection time; the fixture
    below proves the running process serves the same document)."""
    from clipforge_gateway.api.app import create_app
    from clipforge_gateway.config import GatewayConfig
    from clipforge_gateway.context import GatewayContext

    return create_app(GatewayContext(GatewayConfig())).openapi()


def load_schema() -> schemathesis.BaseSchema:
    raw = openapi_document()
    video_links(raw)
    config = schemathesis.Config(seed=SEED)
    project = config.projects.default
    project.update(request_timeout=60)
    project.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
        # Unknown query parameters are ignored on purpose (clients may send more than one version knows).
        allow_extra_parameters=False,
        # Every request carries the real key (below); the ignored_auth check still tries none and a bad one.
        with_security_parameters=False,
    )
    return schemathesis.openapi.from_dict(raw, config=config)


# Loaded at import: schemathesis's lazy from_fixture() does not work with pytest 9 (Function._nodeid is gone).
schema = load_schema()


@pytest.fixture(scope="module")
def target(gateway: GatewayProcess, api_key: str) -> dict[str, Any]:
    """What every generated request is sent with: the process's base URL and a real key."""
    served = httpx.get(f"{gateway.url}/openapi.json", timeout=30).json()
    assert served == openapi_document(), "the running gateway serves another OpenAPI document"
    print(f"\nschemathesis seed {SEED}, max_examples {MAX_EXAMPLES} (CLIPFORGE_FUZZ_SEED/_EXAMPLES to change)")
    return {"base_url": gateway.url, "headers": {"Authorization": f"Bearer {api_key}"}}


@pytest.mark.slow
@schema.parametrize()
def test_generated_requests_never_fail_the_server(case: Case, target: dict[str, Any]) -> None:
    response = case.call(**target)
    record(case.operation.label, response)
    try:
        validate(case, response)
    except BaseException:
        STATS[case.operation.label]["failures"] += 1
        raise


@pytest.mark.slow
def test_stateful_sequences_never_fail_the_server(target: dict[str, Any]) -> None:
    base = schema.as_state_machine()

    class Workflow(base):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return dict(target)

        def validate_response(self, response: schemathesis.Response, case: Case, **kwargs: Any) -> None:
            record("stateful " + case.operation.label, response)
            STATS["stateful"]["examples"] += 1
            try:
                validate(case, response)
            except BaseException:
                STATS["stateful"]["failures"] += 1
                raise

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=8,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
    assert STATS["stateful"]["examples"] > STATEFUL_SCENARIOS


@pytest.mark.slow
def test_gateway_healthy_after_the_fuzzing(gateway: GatewayProcess) -> None:
    result = ScenarioResult("http: schemathesis")
    operations = sorted(k for k in STATS if k != "stateful" and not k.startswith("stateful "))
    for label in operations:
        stats = STATS[label]
        result.trial(stats["failures"] == 0, operation=label, seed=SEED, **dict(stats))
    stateful = {k: dict(v) for k, v in STATS.items() if k.startswith("stateful")}
    if stateful:
        result.trial(STATS["stateful"]["failures"] == 0, operation="stateful", seed=SEED, detail=stateful)
    alive = gateway.alive()
    health = gateway.health() if alive else (0, 0)
    result.trial(alive and health == (200, 200), check="alive and ready afterwards", health=health)
    result.save()
    total = sum(s["examples"] for label, s in STATS.items() if label in operations)
    print(f"\nschemathesis: {total} generated requests over {len(operations)} operations, seed {SEED}")
    assert alive, gateway.service.log_tail()
    assert health == (200, 200)
    assert result.passed == result.trials, [d for d in result.details if not d["ok"]]


# ---------------------------------------------------------------------------------- hand-written


def fake_mp4(size: int) -> bytes:
    return MP4_HEAD + os.urandom(max(size - len(MP4_HEAD), 0))


def multipart(boundary: str, *parts: tuple[bytes, bytes]) -> bytes:
    """A multipart body from (part headers, content) pairs, exactly as given (no escaping)."""
    out = b"".join(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n" for head, data in parts)
    return out + b"--" + boundary.encode() + b"--\r\n"


def file_part(filename: bytes, data: bytes, name: bytes = b"file") -> tuple[bytes, bytes]:
    head = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"'
    return head + b"\r\nContent-Type: video/mp4", data


@dataclass
class Attack:
    """One hand-written request and what must come back."""

    name: str
    method: str
    path: str  # "{project}" and "{video}" are filled in
    statuses: tuple[int, ...]
    codes: tuple[str, ...] = ()  # allowed error codes (any, when empty)
    kwargs: dict[str, Any] = field(default_factory=dict)


BOUNDARY = "xYzBoUnDaRy"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
JSON = {"Content-Type": "application/json"}
SQL = ["' OR '1'='1", "'; DROP TABLE projects; --", '" OR ""="', "1; SELECT pg_sleep(10)--", "%' UNION SELECT * --"]


def attacks() -> list[Attack]:
    mp4 = fake_mp4(4096)
    out = [
        # Oversized uploads: declared too large (refused before reading), and streamed past the limit.
        Attack(
            "declared Content-Length over the limit",
            "POST",
            "/v1/projects/{project}/videos",
            (413,),
            ("file_too_large",),
            {"files": {"file": ("big.mp4", fake_mp4(MAX_UPLOAD + 256 * 1024), "video/mp4")}},
        ),
        Attack(
            "chunked upload streaming past the limit",
            "POST",
            "/v1/projects/{project}/videos",
            (413,),
            ("file_too_large",),
            {"content": "chunked-too-big", "headers": MULTIPART},
        ),
        # Wrong content types.
        Attack("upload as JSON", "POST", "/v1/projects/{project}/videos", (415,), (), {"json": {"file": "x"}}),
        Attack(
            "upload as raw video/mp4",
            "POST",
            "/v1/projects/{project}/videos",
            (415,),
            (),
            {"content": mp4, "headers": {"Content-Type": "video/mp4"}},
        ),
        Attack(
            "multipart without a boundary",
            "POST",
            "/v1/projects/{project}/videos",
            (415,),
            (),
            {"content": mp4, "headers": {"Content-Type": "multipart/form-data"}},
        ),
        Attack(
            "a PDF inside a video part",
            "POST",
            "/v1/projects/{project}/videos",
            (415,),
            ("unsupported_media_type",),
            {"files": {"file": ("talk.mp4", b"%PDF-1.7\n" + b"x" * 4000, "video/mp4")}},
        ),
        Attack(
            "project as form data",
            "POST",
            "/v1/projects",
            (400, 415, 422),
            (),
            {"data": {"name": "x"}},
        ),
        Attack(
            "project as text/plain",
            "POST",
            "/v1/projects",
            (400, 415, 422),
            (),
            {"content": b'{"name": "x"}', "headers": {"Content-Type": "text/plain"}},
        ),
        Attack(
            "import as XML",
            "POST",
            "/v1/projects/{project}/imports",
            (400, 415, 422),
            (),
            {"content": b"<url>https://example.com/a.mp4</url>", "headers": {"Content-Type": "application/xml"}},
        ),
        # Malformed multipart.
        Attack(
            "multipart: other boundary than declared",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {"content": multipart("another", file_part(b"a.mp4", mp4)), "headers": MULTIPART},
        ),
        Attack(
            "multipart: body ends mid-part",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            ("malformed_multipart",),
            {"content": multipart(BOUNDARY, file_part(b"a.mp4", mp4))[:-40], "headers": MULTIPART},
        ),
        Attack(
            "multipart: garbage after the boundary",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {"content": b"--" + BOUNDARY.encode() + b"\x00\xff garbage \r\n\r\n" + mp4, "headers": MULTIPART},
        ),
        Attack(
            "multipart: part without Content-Disposition",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {"content": multipart(BOUNDARY, (b"Content-Type: video/mp4", mp4)), "headers": MULTIPART},
        ),
        Attack(
            "multipart: two file parts",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {"content": multipart(BOUNDARY, file_part(b"a.mp4", mp4), file_part(b"b.mp4", mp4)), "headers": MULTIPART},
        ),
        Attack(
            "multipart: a file in another field",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {"content": multipart(BOUNDARY, file_part(b"a.mp4", mp4, b"language")), "headers": MULTIPART},
        ),
        Attack(
            "multipart: a form field of 1 MiB",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {
                "content": multipart(BOUNDARY, (b'Content-Disposition: form-data; name="language"', b"e" * (1 << 20))),
                "headers": MULTIPART,
            },
        ),
        Attack(
            "multipart: 500 form fields",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {
                "content": multipart(
                    BOUNDARY, *[(f'Content-Disposition: form-data; name="f{i}"'.encode(), b"x") for i in range(500)]
                ),
                "headers": MULTIPART,
            },
        ),
        Attack(
            "multipart: empty body",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {"content": b"", "headers": MULTIPART},
        ),
        # Invalid UTF-8 everywhere text is read.
        Attack(
            "invalid UTF-8 in a JSON body",
            "POST",
            "/v1/projects",
            (400, 422),
            (),
            {"content": b'{"name": "\xff\xfe\xc0\xaf"}', "headers": JSON},
        ),
        Attack("invalid UTF-8 in a path id", "GET", "/v1/projects/%ff%fe%c0%af", (404, 422)),
        Attack("invalid UTF-8 in a video id", "GET", "/v1/videos/%ff%c0%af/clips", (404, 422)),
        Attack("invalid UTF-8 in a query", "GET", "/v1/projects?cursor=%ff%fe&limit=%c0%af", (404, 422)),
        Attack(
            "invalid UTF-8 in a form field",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            (),
            {
                "content": multipart(
                    BOUNDARY,
                    (b'Content-Disposition: form-data; name="language"', b"\xff\xfe"),
                    file_part(b"a.mp4", mp4),
                ),
                "headers": MULTIPART,
            },
        ),
        Attack("NUL in a path id", "GET", "/v1/projects/a%00b", (404, 422)),
        Attack("NUL in the hot path id", "GET", "/v1/videos/a%00b", (404, 422)),
        Attack("NUL in a cursor", "GET", "/v1/projects?cursor=%00", (422,)),
        Attack("NUL in a project name", "POST", "/v1/projects", (422,), (), {"json": {"name": "a\u0000b"}}),
        Attack(
            "NUL in a ranker version",
            "POST",
            "/v1/videos/{video}/rank",
            (409, 422),
            (),
            {"json": {"ranker_version": "\u0000"}},
        ),
        # A huge JSON body.
        Attack(
            "32 MiB JSON body",
            "POST",
            "/v1/projects",
            (413,),
            ("payload_too_large",),
            {"content": b'{"name": "x", "description": "' + b"a" * (32 << 20) + b'"}', "headers": JSON},
        ),
        Attack(
            "chunked JSON body past 1 MiB",
            "POST",
            "/v1/projects/{project}/imports",
            (413,),
            ("payload_too_large",),
            {"content": "chunked-json", "headers": JSON},
        ),
        Attack(
            "deeply nested JSON",
            "POST",
            "/v1/videos/{video}/rank",
            (400, 409, 413, 422),
            (),
            {"content": b'{"settings": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001, "headers": JSON},
        ),
        # Negative, NaN and infinite numbers.
        Attack("negative limit", "GET", "/v1/projects?limit=-1", (422,), ("validation_error",)),
        Attack("NaN limit", "GET", "/v1/projects?limit=NaN", (422,), ("validation_error",)),
        Attack("NaN days", "GET", "/v1/usage?days=nan", (422,), ("validation_error",)),
        Attack("infinite days", "GET", "/v1/usage?days=inf", (422,), ("validation_error",)),
        Attack("huge days", "GET", "/v1/usage?days=99999999999999999999", (422,), ("validation_error",)),
        Attack(
            "NaN top_k in an import (non-standard JSON)",
            "POST",
            "/v1/projects/{project}/imports",
            (400, 422),
            (),
            {"content": b'{"url": "https://example.com/a.mp4", "options": {"top_k": NaN}}', "headers": JSON},
        ),
        Attack(
            "negative top_k in an upload",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            ("validation_error",),
            {"files": {"file": ("a.mp4", mp4, "video/mp4")}, "data": {"top_k": "-1"}},
        ),
        Attack(
            "NaN top_k in an upload",
            "POST",
            "/v1/projects/{project}/videos",
            (422,),
            ("validation_error",),
            {"files": {"file": ("a.mp4", mp4, "video/mp4")}, "data": {"top_k": "NaN"}},
        ),
        Attack(
            "NaN in rank settings",
            "POST",
            "/v1/videos/{video}/rank",
            (400, 409, 422),
            (),
            {"content": b'{"settings": {"min_seconds": NaN, "max_seconds": -Infinity}}', "headers": JSON},
        ),
        Attack(
            "NaN font size",
            "POST",
            "/v1/videos/{video}/clips/c1/renders",
            (400, 404, 422),
            (),
            {"content": b'{"caption_style": {"font_size": NaN}}', "headers": JSON},
        ),
        Attack("negative byte range", "GET", "/v1/videos/{video}/renders/r/download", (404, 416), (), {}),
        # Unknown ids on every kind of route.
        Attack("unknown project", "GET", f"/v1/projects/{uuid.uuid4()}", (404,), ("project_not_found",)),
        Attack(
            "unknown project's videos", "GET", f"/v1/projects/{uuid.uuid4()}/videos", (404,), ("project_not_found",)
        ),
        Attack("unknown video", "GET", f"/v1/videos/{uuid.uuid4()}", (404,), ("video_not_found",)),
        Attack("delete unknown video", "DELETE", f"/v1/videos/{uuid.uuid4()}", (404,), ("video_not_found",)),
        Attack("unknown transcript", "GET", f"/v1/videos/{uuid.uuid4()}/transcript", (404,), ("video_not_found",)),
        Attack("unknown clip", "GET", "/v1/videos/{video}/clips/" + str(uuid.uuid4()), (404,)),
        Attack("unknown render", "GET", "/v1/videos/{video}/renders/" + str(uuid.uuid4()), (404,)),
        Attack("unknown render download", "GET", "/v1/videos/{video}/renders/r1/download?file=srt", (404,)),
        Attack("unknown endpoint", "GET", "/v1/../../etc/passwd", (404,), ("not_found",)),
        Attack("unknown method", "PATCH", "/v1/projects", (405,), ("method_not_allowed",)),
    ]
    # SQL-looking strings wherever text reaches a query.
    for i, text in enumerate(SQL):
        quoted = httpx.QueryParams({"cursor": text})
        out += [
            Attack(f"SQL-looking project id {i}", "GET", f"/v1/projects/{text}", (404,), ("project_not_found",)),
            Attack(f"SQL-looking video id {i}", "GET", f"/v1/videos/{text}/renders", (404,), ("video_not_found",)),
            Attack(f"SQL-looking cursor {i}", "GET", f"/v1/projects?{quoted}", (200,)),
        ]
    return out


async def chunked_too_big() -> AsyncIterator[bytes]:
    yield b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
    yield MP4_HEAD
    chunk = os.urandom(1 << 20)
    for _ in range(MAX_UPLOAD // len(chunk) + 2):
        yield chunk
    yield b"\r\n--" + BOUNDARY.encode() + b"--\r\n"


async def chunked_json() -> AsyncIterator[bytes]:
    yield b'{"url": "https://example.com/a.mp4", "options": {"language": "'
    for _ in range(8):
        yield b"e" * (256 * 1024)
    yield b'"}}'


@pytest.fixture(scope="module")
async def intruder_client(gateway: GatewayProcess) -> AsyncIterator[httpx.AsyncClient]:
    key = await gateway.new_key("bad-input-" + uuid.uuid4().hex[:8], rate_limit_per_minute=1_000_000)
    async with httpx.AsyncClient(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        yield c


@pytest.mark.slow
async def test_hand_written_bad_input(gateway: GatewayProcess, intruder_client: httpx.AsyncClient) -> None:
    client = intruder_client
    project = (await client.post("/v1/projects", json={"name": "bad input"})).json()["project_id"]
    imported = await client.post(f"/v1/projects/{project}/imports", json={"url": "https://example.com/talk.mp4"})
    video = imported.json()["video_id"]
    result = ScenarioResult("http: hand-written bad input")
    problems: list[str] = []
    cases = attacks()
    for attack in cases:
        kwargs = dict(attack.kwargs)
        if kwargs.get("content") == "chunked-too-big":
            kwargs["content"] = chunked_too_big()
        if kwargs.get("content") == "chunked-json":
            kwargs["content"] = chunked_json()
        if attack.name == "negative byte range":
            kwargs["headers"] = {"Range": "bytes=-5--10"}
        path = attack.path.replace("{project}", project).replace("{video}", video)
        try:
            response = await client.request(attack.method, path, **kwargs)
        except httpx.HTTPError as exc:  # the server hung up instead of answering
            ok, status, code = False, 0, f"transport error {type(exc).__name__}"
        else:
            status = response.status_code
            code = error_code_of(status, response.content, response.headers.get("content-type", "")) or ""
            if status < 400:
                ok = status in attack.statuses
            else:
                ok = status in attack.statuses and bool(code) and (not attack.codes or code in attack.codes)
        result.trial(ok, case=attack.name, status=status, code=code)
        if not ok:
            problems.append(f"{attack.name}: {attack.method} {path[:80]} -> {status} {code!r}, want {attack.statuses}")
    alive = gateway.alive()
    health = await asyncio.to_thread(gateway.health) if alive else (0, 0)
    result.trial(alive and health == (200, 200), case="alive and ready afterwards", health=health)
    # Nothing above was a server error, so nothing was logged as one.
    unhandled = [line for line in gateway.log_text().splitlines() if "unhandled error" in line]
    result.trial(not unhandled, case="no unhandled error logged", lines=len(unhandled))
    result.save()
    print(f"\n{len(cases)} hand-written bad requests")
    assert not problems, "\n".join(problems)
    assert alive and health == (200, 200)
    assert not unhandled, unhandled[:3]
    # The tenant's data is intact and nothing leaked in: the SQL-looking cursors returned its own projects.
    listed = (await client.get("/v1/projects")).json()["items"]
    assert [p["project_id"] for p in listed] == [project]


TRAVERSAL_NAMES = [
    b"../../../../etc/passwd.mp4",
    b"..\\..\\windows\\system32\\a.mp4",
    b"/abs/olute.mp4",
    b"a/../../b.mp4",
    b"%2e%2e%2fx.mp4",
    b"....//....//c.mp4",
]


async def test_path_traversal_file_names_stay_data(gateway: GatewayProcess, intruder_client: httpx.AsyncClient) -> None:
    """The object key never comes from the client's file name: the upload lands at videos/<id>/source.mp4."""
    client = intruder_client
    project = (await client.post("/v1/projects", json={"name": "traversal"})).json()["project_id"]
    store = ObjectStore(gateway.settings)
    result = ScenarioResult("http: hand-written bad input")
    for filename in TRAVERSAL_NAMES:
        body = multipart(BOUNDARY, file_part(filename, fake_mp4(3000)))
        response = await client.post(f"/v1/projects/{project}/videos", content=body, headers=MULTIPART)
        assert response.status_code == 202, response.text
        video_id = response.json()["video_id"]
        keys = await store.list_keys(f"videos/{video_id}/")
        shown = (await client.get(f"/v1/videos/{video_id}")).json()["source"]
        stray = [k for k in ("etc/passwd.mp4", "abs/olute.mp4", "b.mp4", "c.mp4") if await store.exists(k)]
        ok = keys == [f"videos/{video_id}/source.mp4"] and shown["filename"] == filename.decode() and not stray
        result.trial(ok, case=f"path traversal file name {filename.decode()}", keys=keys, stray=stray)
        await store.delete_prefix(f"videos/{video_id}/")
    result.save()
    assert result.passed == result.trials, [d for d in result.details if not d["ok"]]
