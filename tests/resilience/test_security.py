"""Security: SSRF refusals, API keys (never logged, hashed at rest, compared in constant time), tenant
isolation on the WebSocket and the routes the gateway suite does not already cover.

What exists elsewhere and is not repeated here: tests/integration/gateway/test_gateway_api.py proves
another tenant's key answers 404 on every id route from both replicas; test_gateway_ws.py proves the
WebSocket handshake refuses another tenant's video (header and ``?key=``);
tests/unit/ingest/test_ingest_url_guard.py and tests/integration/pipeline_asr/test_ingest_ssrf.py cover
the guard's basic ranges and one redirect to loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.server
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import asyncpg
import httpx
import pytest
from clipforge_common.db import create_pool
from clipforge_common.settings import Settings
from clipforge_gateway.config import GatewayConfig
from clipforge_gateway.deps import Authenticator
from clipforge_gateway.keys import KeyCache, hash_key, parse_key, revoke_api_key
from clipforge_ingest.domain import UrlRefused, check_url, system_resolver
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.integration.common.clip_services import start_group_at_end, tenant_service
from tests.integration.gateway.conftest import GatewayPair, event
from tests.integration.gateway.conftest import gateways as gateways  # the module-scoped pair, reused
from tests.integration.gateway.conftest import tenant_factory as tenant_factory
from tests.integration.gateway.test_gateway_api import error_code, fake_mp4, fake_pipeline, new_project, upload
from tests.integration.pipeline_asr.harness import EventLog
from tests.resilience.gateway_process import GatewayProcess, gateway_fixture
from tests.resilience.report import ScenarioResult

# DEBUG: the most the gateway ever logs, so a key that leaks anywhere shows.
gateway = gateway_fixture(log_level="DEBUG")


# ------------------------------------------------------------------------------------------ SSRF

PUBLIC = {"public.example": ["93.184.216.34"]}


def _resolver(host: str, port: int) -> list[str]:
    if host in PUBLIC:
        return PUBLIC[host]
    return system_resolver(host, port)  # numeric spellings and localhost are parsed locally, no DNS


FORBIDDEN = {
    # IPv4 private, loopback, unspecified, link-local (metadata) and CGNAT ranges, at both ends.
    "10/8 low": "http://10.0.0.1/v.mp4",
    "10/8 high": "http://10.255.255.254/v.mp4",
    "172.16/12 low": "http://172.16.0.1/",
    "172.16/12 high": "http://172.31.255.254/",
    "192.168/16": "http://192.168.1.1/",
    "127/8": "http://127.0.0.1/",
    "127/8 high": "http://127.255.255.254:8080/",
    "0.0.0.0": "http://0.0.0.0/",
    "169.254/16": "http://169.254.0.1/",
    "cloud metadata": "http://169.254.169.254/latest/meta-data/",
    "CGNAT low": "http://100.64.0.1/",
    "CGNAT high": "http://100.127.255.254/",
    # IPv6.
    "::1": "http://[::1]/",
    "::": "http://[::]/",
    "fc00::/7 (fc)": "http://[fc00::1]/",
    "fc00::/7 (fd)": "http://[fd12:3456:789a::1]/",
    "fe80::/10": "http://[fe80::1]/",
    "fe80::/10 high": "http://[febf::1]/",
    "mapped loopback": "http://[::ffff:127.0.0.1]/",
    "mapped metadata": "http://[::ffff:169.254.169.254]/",
    "mapped private": "http://[::ffff:10.0.0.1]/",
    "NAT64 of 10.0.0.1": "http://[64:ff9b::a00:1]/",
    "NAT64 of 192.168.1.1": "http://[64:ff9b::c0a8:101]/",
    "6to4 of 10.0.0.1": "http://[2002:a00:1::]/",
    "6to4 of 192.168.1.1": "http://[2002:c0a8:101::1]/",
    "6to4 of 127.0.0.1": "http://[2002:7f00:1::]/",
    "NAT64 of 127.0.0.1": "http://[64:ff9b::7f00:1]/",
    "local-use NAT64 of 10.0.0.1": "http://[64:ff9b:1::a00:1]/",
    "site-local fec0::/10": "http://[fec0::1]/",
    "IPv4-compatible ::127.0.0.1": "http://[::127.0.0.1]/",
    "mapped loopback in hex": "http://[::ffff:7f00:1]/",
    "IPv4-translated loopback": "http://[::ffff:0:127.0.0.1]/",
    "mapped CGNAT": "http://[::ffff:100.64.0.1]/",
    "benchmarking 198.18/15": "http://198.18.0.1/",
    # Odd spellings of loopback (the system resolver parses them the way a client would).
    "decimal": "http://2130706433/",
    "hex octets": "http://0x7f.1/",
    "octal": "http://017700000001/",
    "short form": "http://127.1/",
    "hex whole": "http://0x7f000001/",
    "zero": "http://0/",
    "localhost": "http://localhost/",
    "localhost trailing dot": "http://localhost./",
    "upper-case scheme": "HTTP://127.0.0.1/",
    # User-info and fragment tricks: the host is what follows '@' (or precedes '#').
    "userinfo": "http://public.example@127.0.0.1/",
    "userinfo with port": "http://public.example:80@127.0.0.1:8080/",
    "fragment": "http://127.0.0.1#@public.example/",
    "userinfo v6": "http://public.example@[::1]/",
}
BAD_SCHEME = {
    "file": "file:///etc/passwd",
    "ftp": "ftp://public.example/a.mp4",
    "gopher": "gopher://127.0.0.1:6379/_INFO",
    "data": "data:video/mp4;base64,AAAA",
    "dict": "dict://127.0.0.1:11211/stat",
    "ldap": "ldap://127.0.0.1/",
    "jar": "jar:http://public.example/a.jar!/",
    "no scheme": "//127.0.0.1/",
}
ALLOWED = {"public v4": "http://93.184.216.34/a.mp4", "public name": "https://public.example/a.mp4"}

SSRF_RESULT = ScenarioResult("security: SSRF")


def _verdict(url: str) -> str:
    try:
        check_url(url, resolver=_resolver)
    except UrlRefused as exc:
        return exc.reason_code
    return "allowed"


@pytest.mark.parametrize(
    ("case", "url", "expected"),
    [(c, u, "forbidden_address") for c, u in FORBIDDEN.items()]
    + [(c, u, "bad_scheme") for c, u in BAD_SCHEME.items()]
    + [(c, u, "allowed") for c, u in ALLOWED.items()],
)
def test_ssrf_guard(case: str, url: str, expected: str) -> None:
    got = _verdict(url)
    SSRF_RESULT.trial(got == expected, case=case, url=url, got=got)
    assert got == expected, (case, url)


def test_ssrf_guard_scoreboard() -> None:
    if not SSRF_RESULT.trials:
        pytest.skip("no guard case ran")
    SSRF_RESULT.save()
    assert SSRF_RESULT.passed == SSRF_RESULT.trials


# A redirect chain through two "public" hosts ending on loopback, imported for real: gateway process
# → ingest.requested on Kafka → an ingest process of our own → video.ingest_failed.

HOP1_NAME, HOP1_IP = "media.example-cdn.com", "127.0.0.2"
HOP2_NAME, HOP2_IP = "edge.example-videos.net", "127.0.0.3"


class _Hop(http.server.BaseHTTPRequestHandler):
    location: ClassVar[str] = ""
    hits: ClassVar[list[str]]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.location:
            self.send_response(302)
            self.send_header("Location", self.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"internal secrets"
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def _serve(host: str, location: str = "") -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    hits: list[str] = []
    handler = type("Hop", (_Hop,), {"location": location, "hits": hits})
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


@pytest.fixture(scope="module")
def redirect_chain() -> Iterator[dict[str, Any]]:
    internal, internal_hits = _serve("127.0.0.1")
    lport = internal.server_address[1]
    # hop 2 (public-looking) → a public-looking hop again with a relative path → loopback, spelled as an
    # IPv4-mapped IPv6 address.
    hop2, hop2_hits = _serve(HOP2_IP, location=f"http://[::ffff:127.0.0.1]:{lport}/admin")
    hop1, hop1_hits = _serve(HOP1_IP, location=f"http://{HOP2_NAME}:{hop2.server_address[1]}/next")
    try:
        yield {
            "start": f"http://{HOP1_NAME}:{hop1.server_address[1]}/talk.mp4",
            "hits": {"hop1": hop1_hits, "hop2": hop2_hits, "internal": internal_hits},
        }
    finally:
        for server in (internal, hop1, hop2):
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
async def import_path(
    gateway: GatewayProcess, stack: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    """A tenant on the gateway process, and an ingest process serving only that tenant."""
    tenant = f"ssrf-{uuid.uuid4().hex[:8]}"
    key = await gateway.new_key(tenant)
    tenant_id = (await gateway.query("SELECT tenant_id FROM tenants WHERE name = $1", tenant))[0]["tenant_id"]
    ingest = tenant_service(
        "ingest",
        stack,
        tmp_path_factory.mktemp("ingest-logs"),
        tenant_id,
        # The production policy plus exactly the two hop addresses (the test's "internet").
        CLIPFORGE_INGEST_ALLOWED_NETWORKS=f"{HOP1_IP}/32,{HOP2_IP}/32",
        CLIPFORGE_INGEST_DNS_OVERRIDES=json.dumps({HOP1_NAME: [HOP1_IP], HOP2_NAME: [HOP2_IP]}),
        CLIPFORGE_INGEST_DOWNLOAD_TIMEOUT_S="10",
        CLIPFORGE_INGEST_USE_YTDLP="false",
    )
    await start_group_at_end(stack, ingest.group_id, ["ingest.requested", "video.deleted"])
    events = EventLog(stack)
    await events.start()
    ingest.start()
    try:
        await ingest.wait_ready()
        yield {"key": key, "events": events, "ingest": ingest}
    finally:
        code = ingest.stop()
        await events.stop()
        await ingest.drop_database()
        assert code in (0, None), ingest.log_tail()


@pytest.mark.slow
async def test_redirect_chain_ending_on_loopback_is_refused(
    gateway: GatewayProcess, import_path: dict[str, Any], redirect_chain: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {import_path['key']}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers, timeout=60) as client:
        project = (await client.post("/v1/projects", json={"name": "ssrf"})).json()["project_id"]
        response = await client.post(f"/v1/projects/{project}/imports", json={"url": redirect_chain["start"]})
    assert response.status_code == 202, response.text
    video_id = response.json()["video_id"]
    events: EventLog = import_path["events"]
    answer = await events.wait_for(video_id, "video.ingested", "video.ingest_failed")
    hits = redirect_chain["hits"]
    ok = (
        answer.event_type == "video.ingest_failed"
        and answer.data.get("reason_code") == "forbidden_address"
        and hits["hop1"] == ["/talk.mp4"]
        and hits["hop2"] == ["/next"]
        and hits["internal"] == []
    )
    result = ScenarioResult("security: SSRF")
    result.trial(ok, case="redirect chain public → public → loopback", answer=answer.data, hits=hits)
    result.save()
    assert answer.event_type == "video.ingest_failed", answer.data
    assert answer.data["reason_code"] == "forbidden_address", answer.data
    assert hits["hop1"] == ["/talk.mp4"] and hits["hop2"] == ["/next"], "both public hops were followed"
    assert hits["internal"] == [], "the loopback service must never be contacted"


# -------------------------------------------------------------------------------------- API keys


async def test_api_keys_never_reach_the_log(gateway: GatewayProcess) -> None:
    valid = await gateway.new_key()
    limited = await gateway.new_key(rate_limit_per_minute=1)
    revoked = await gateway.new_key()
    revoked_id = parse_key(revoked)
    assert revoked_id is not None
    pool = await create_pool(gateway.settings, gateway.database)
    try:
        await revoke_api_key(pool, revoked_id)
    finally:
        await pool.close()
    wrong_secret = valid[:-6] + "AAAAAA"
    keys = [valid, limited, revoked, wrong_secret]
    statuses: dict[str, list[int]] = {}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:

        async def call(label: str, method: str, path: str, key: str, **kwargs: Any) -> None:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            response = await client.request(method, path, headers=headers, **kwargs)
            statuses.setdefault(label, []).append(response.status_code)

        await call("valid", "GET", "/v1/projects", valid)
        await call("valid", "POST", "/v1/projects", valid, json={"name": "logs"})
        await call("valid", "GET", f"/v1/videos/{uuid.uuid4()}", valid)
        await call("valid", "POST", "/v1/projects", valid, json={"name": ""})  # 422
        await call("valid", "POST", "/v1/projects", valid, content=b"{")  # not JSON
        for _ in range(3):
            await call("limited", "GET", "/v1/projects", limited)
        await call("revoked", "GET", "/v1/projects", revoked)
        await call("wrong secret", "GET", "/v1/projects", wrong_secret)
        await call("malformed", "GET", "/v1/projects", "cf_" + valid.split("_", 2)[2])
        # Keys where they do not belong: the query string and odd headers.
        response = await client.get("/v1/projects", params={"key": valid}, headers={"X-Api-Key": valid})
        statuses["key in query on REST"] = [response.status_code]
    # The WebSocket takes the key in the URL (browsers cannot set headers): refused for an unknown video.
    statuses["ws with ?key="] = [await _ws_refused(f"{gateway.ws_url}/v1/videos/{uuid.uuid4()}/events?key={valid}")]
    # Requests too broken for the HTTP parser, with the key in them: the server logs a warning for each.
    for raw in (
        f"GET /v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {valid}\r\nBad Header\r\n\r\n",
        f"GET /v1/pro jects?key={valid} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {valid}\x01\r\n\r\n",
    ):
        statuses.setdefault("unparseable", []).append(await asyncio.to_thread(_raw_request, gateway, raw))
    await asyncio.sleep(0.5)  # let the process flush its log lines
    log = gateway.log_text()
    assert statuses["valid"] == [200, 201, 404, 422, 422], statuses
    assert 429 in statuses["limited"], statuses
    assert statuses["revoked"] == [401] and statuses["wrong secret"] == [401] and statuses["malformed"] == [401]
    assert statuses["key in query on REST"] == [401] and statuses["ws with ?key="] == [404]
    leaks = [(k[:12], part) for k in keys for part in (k, k.split("_", 2)[2]) if part in log]
    result = ScenarioResult("security: API keys")
    result.trial(not leaks, case="no key or secret in the gateway's DEBUG log", log_lines=len(log.splitlines()))
    result.save()
    assert statuses["unparseable"] == [400, 400], statuses
    assert "Invalid HTTP request received" in log, "request-time log lines are not captured"
    assert not leaks


def _raw_request(gateway: GatewayProcess, raw: str) -> int:
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(raw.encode("latin-1"))
        head = conn.recv(64).decode("latin-1")
    return int(head.split(" ", 2)[1])


async def _ws_refused(url: str) -> int:
    try:
        async with connect(url):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_database_holds_only_hashes(gateway: GatewayProcess) -> None:
    plaintexts = [await gateway.new_key(f"hash-{uuid.uuid4().hex[:6]}") for _ in range(3)]
    rows = await gateway.query("SELECT * FROM api_keys")
    tenants = await gateway.query("SELECT * FROM tenants")
    stored = {row["key_id"]: row for row in rows}
    problems = []
    for plaintext in plaintexts:
        key_id = parse_key(plaintext)
        assert key_id is not None
        row = stored[key_id]
        secret = plaintext.split("_", 2)[2]
        if row["key_hash"] != hashlib.sha256(plaintext.encode()).hexdigest():
            problems.append(f"{key_id}: key_hash is not the SHA-256 of the key")
        for table in (rows, tenants):
            for any_row in table:
                for column, value in dict(any_row).items():
                    if value is not None and (secret in str(value) or plaintext in str(value)):
                        problems.append(f"{key_id}: secret found in column {column}")
    result = ScenarioResult("security: API keys")
    result.trial(not problems, case="api_keys holds SHA-256 hashes only", keys=len(plaintexts), problems=problems)
    result.save()
    assert not problems
    assert {c for c in dict(rows[0])} >= {"key_id", "tenant_id", "key_hash"}


class _RecordingPool:
    """The real pool, with every query's SQL and arguments recorded."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self.calls.append((sql, args))
        return await self.pool.fetchrow(sql, *args)


class _Ctx:
    def __init__(self, pool: _RecordingPool) -> None:
        self.config = GatewayConfig(key_cache_seconds=0)
        self.keys = KeyCache(0)
        self.pool = pool
        self.redis = None


async def test_verification_is_by_key_id_and_constant_time(
    gateway: GatewayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext = await gateway.new_key()
    key_id = parse_key(plaintext)
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    # keys.py calls hmac.compare_digest through the module, so patching the module attribute sees it.
    monkeypatch.setattr(hmac, "compare_digest", spy)
    raw_pool = await create_pool(gateway.settings, gateway.database)
    try:
        pool = _RecordingPool(raw_pool)
        auth = Authenticator(_Ctx(pool))  # type: ignore[arg-type]

        async def no_limit(*_args: Any) -> None:
            return None

        monkeypatch.setattr(auth, "_rate_limit", no_limit)
        principal = await auth.authenticate(plaintext)
        wrong = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
        with pytest.raises(Exception) as refused:
            await auth.authenticate(wrong)
    finally:
        await raw_pool.close()
    stored = hash_key(plaintext)
    secret = plaintext.split("_", 2)[2]
    checks = {
        "authenticated by the right key": principal.key_id == key_id,
        "wrong secret refused with 401": getattr(refused.value, "status", None) == 401,
        "compare_digest on the hashes": compared
        == [(stored.encode(), stored.encode()), (hash_key(wrong).encode(), stored.encode())],
        "looked up by key id only": [args for _sql, args in pool.calls] == [(key_id,), (key_id,)],
        "no secret in any query": all(
            secret not in sql and all(secret not in str(a) for a in args) for sql, args in pool.calls
        ),
    }
    result = ScenarioResult("security: API keys")
    for name, ok in checks.items():
        result.trial(ok, case=name)
    result.save()
    assert all(checks.values()), checks


# ------------------------------------------------------------------------------ tenant isolation


async def _receive(ws: Any, timeout: float = 60) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # guards against hanging only


async def test_tenant_isolation_on_the_websocket_and_the_rest(gateways: GatewayPair, tenant_factory: Any) -> None:
    owner, intruder = await tenant_factory(), await tenant_factory()
    project_id = await new_project(owner)
    video_id = (await upload(owner, project_id, fake_mp4(4000)))["video_id"]
    ids = await fake_pipeline(gateways, owner, video_id)
    owner_tenant = (await gateways.pool.fetchrow("SELECT tenant_id FROM tenants WHERE name = $1", owner.name))[0]
    intruder_tenant = (await gateways.pool.fetchrow("SELECT tenant_id FROM tenants WHERE name = $1", intruder.name))[0]
    result = ScenarioResult("security: tenant isolation")
    checks: dict[str, bool] = {}

    # The WebSocket on both replicas: the intruder's key (header, query, both) never opens the owner's video,
    # and a mixed attempt (intruder header + owner id) is judged by the header.
    for name, replica in (("a", gateways.a), ("b", gateways.b)):
        url = f"{replica.ws_url}/v1/videos/{video_id}/events"
        checks[f"ws {name}: intruder query key"] = await _ws_refused(f"{url}?key={intruder.key}") == 404
        checks[f"ws {name}: bad key in query, good in nothing"] = await _ws_refused(f"{url}?key=cf_x_y") == 401
        try:
            async with connect(url, additional_headers=intruder.headers):
                status = 101
        except InvalidStatus as exc:
            status = exc.response.status_code
        checks[f"ws {name}: intruder header"] = status == 404

    # A live stream carries only its own tenant's events: an event claiming the owner's video but
    # another tenant is ignored by the projector and never reaches the owner's socket.
    async with connect(f"{gateways.b.ws_url}/v1/videos/{video_id}/events", additional_headers=owner.headers) as ws:
        snapshot = await _receive(ws)
        forged = event("pipeline.progress", video_id, intruder_tenant, {"stage": "render", "percent": 66})
        assert await gateways.project(forged) == "applied"
        genuine = event("pipeline.progress", video_id, owner_tenant, {"stage": "render", "percent": 33})
        assert await gateways.project(genuine) == "applied"
        message = await _receive(ws)
        checks["forged-tenant event not streamed"] = message["event_id"] == genuine.event_id
        checks["snapshot was the owner's"] = snapshot["video"]["video_id"] == video_id
    video = (await owner.client.get(f"/v1/videos/{video_id}")).json()
    checks["forged-tenant event not projected"] = video["stages"]["render"]["percent"] != 66

    # Downloads of every file kind, with a Range, and the per-tenant lists and usage.
    download = f"/v1/videos/{video_id}/renders/{ids['render_id']}/download"
    for file in ("video", "thumbnail", "srt", "vtt"):
        response = await intruder.client_b.get(download, params={"file": file}, headers={"Range": "bytes=0-10"})
        checks[f"download {file} with Range"] = response.status_code == 404 and error_code(response).endswith(
            "not_found"
        )
        mine = await owner.client_b.get(download, params={"file": file})
        checks[f"owner still downloads {file}"] = mine.status_code == 200
    usage = (await intruder.client.get("/v1/usage")).json()["items"]
    checks["usage is per tenant"] = usage == []
    checks["projects are per tenant"] = (await intruder.client.get("/v1/projects")).json()["items"] == []
    for name, ok in checks.items():
        result.trial(ok, case=name)
    result.save()
    assert all(checks.values()), {k: v for k, v in checks.items() if not v}
