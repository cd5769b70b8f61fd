"""Cached GET /v1/videos/{id} of the real gateway versus a bare FastAPI endpoint, same server setup.

Both targets are served by uvicorn in ONE process started the same way (the gateway through its
ServiceRuntime, with its Kafka consumer, outbox relay and workers running beside the API, as in
production); the bare app returns a constant. Each gets a warm-up, then a bounded number of requests
at 50 concurrent keep-alive connections over loopback, in the same run. The gateway path includes
authentication, the per-key rate limit (Redis) and the view read (Redis); no SQL.

    python bench/gateway.py                        # bounded request counts, built-in asyncio client
    python bench/gateway.py --tool wrk --duration 10    # wrk (apt-get install wrk), bounded by time

Needs the local stack (`clipforge stack up`). Creates and drops its own database, consumer group
offsets and Redis namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.7

# wrk cannot stop after N requests and still report a true duration, so it runs for a fixed time.
WRK_SCRIPT = """
local token = os.getenv("BENCH_AUTH")
init = function(args)
  if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
end
done = function(summary, latency, requests)
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_us: float = 0.0  # CPU the server process spent per request (robust to a busy machine)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# ----------------------------------------------------------------------------------------- servers


def _bench_settings(database: str, port: int):
    from clipforge_common.settings import Settings

    class BenchSettings(Settings):
        bench_database: str = ""

        def database_for(self, service: str) -> str:
            return self.bench_database or super().database_for(service)

    return BenchSettings(bench_database=database, gateway_port=port, log_level="WARNING")


async def serve_gateway(port: int, database: str, namespace: str, group_id: str) -> None:
    from clipforge_common.service import ServiceRuntime
    from clipforge_gateway.config import GatewayConfig
    from clipforge_gateway.main import definition

    runtime = ServiceRuntime(
        definition(GatewayConfig(redis_namespace=namespace), group_id=group_id), _bench_settings(database, port)
    )
    await runtime.run_until_signalled()


async def serve_bare(port: int) -> None:
    import uvicorn
    from clipforge_common.settings import Settings
    from clipforge_common.telemetry import setup_logging, setup_telemetry
    from clipforge_gateway.api.app import TELEMETRY
    from clipforge_gateway.config import GatewayConfig
    from clipforge_gateway.context import tune_gc
    from fastapi import FastAPI

    # The same process set-up as a ClipForge service (logging, tracer provider) and the same FastAPI
    # telemetry settings as the gateway app: only the endpoint's own work differs.
    settings = Settings(log_level="WARNING")
    setup_logging(settings, "bench-bare")
    setup_telemetry(settings, "bench-bare")
    app = FastAPI(telemetry=TELEMETRY)  # type: ignore[arg-type]
    tune_gc(GatewayConfig().gc_young_threshold)  # the same garbage-collector settings as the gateway

    @app.get("/bare")
    async def bare() -> dict[str, object]:
        return {"video_id": "0192f1a4-5b6c-7d8e-9f00-112233445566", "status": "ready"}

    # The same uvicorn configuration ServiceRuntime uses for a service's HTTP server.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task


# ---------------------------------------------------------------------------------- load generators


async def python_load(url: str, token: str | None, total: int, concurrency: int) -> Result:
    """A minimal keep-alive HTTP/1.1 client (httpx itself would be the bottleneck)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode()
    latencies: list[int] = []
    errors = 0
    remaining = total

    async def worker() -> None:
        nonlocal remaining, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter_ns()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter_ns() - started)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - began
    latencies.sort()
    return Result(
        name=url,
        requests=len(latencies),
        seconds=seconds,
        p50_ms=statistics.median(latencies) / 1e6,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1e6,
        errors=errors,
    )


def wrk_load(url: str, token: str | None, seconds: float, concurrency: int, threads: int, script: Path) -> Result:
    env = {**os.environ, "BENCH_AUTH": token or ""}
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    data = json.loads(line[len("BENCH ") :])
    return Result(
        name=url,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["non2xx"] + data["socket_errors"],
    )


# ------------------------------------------------------------------------------------------- driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], cwd=REPO)


async def wait_healthy(url: str) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def prepare(database: str, gateway_url: str) -> tuple[str, str]:
    """A tenant with an effectively unlimited key, and one uploaded video whose view is cached."""
    import httpx
    from clipforge_common.db import create_pool
    from clipforge_common.settings import Settings
    from clipforge_gateway.keys import create_api_key

    pool = await create_pool(Settings(pg_pool_min=1, pg_pool_max=1), database)
    try:
        key = await create_api_key(pool, f"bench-{uuid.uuid4().hex[:8]}", rate_limit_per_minute=10**9)
    finally:
        await pool.close()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=30) as client:
        project = (await client.post("/v1/projects", json={"name": "bench"})).json()["project_id"]
        data = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + os.urandom(4096)
        response = await client.post(f"/v1/projects/{project}/videos", files={"file": ("bench.mp4", data, "video/mp4")})
        response.raise_for_status()
        video_id = response.json()["video_id"]
        for _ in range(300):  # until the projector has applied its own ingest.requested (quiet view)
            if (await client.get(f"/v1/videos/{video_id}")).json()["version"] >= 2:
                break
            await asyncio.sleep(0.1)
    return key, video_id


async def cleanup(database: str, namespace: str) -> None:
    from clipforge_common.cache import create_redis, delete_prefix
    from clipforge_common.db import drop_database
    from clipforge_common.settings import Settings

    settings = Settings()
    await drop_database(settings, database)
    redis = create_redis(settings)
    try:
        await delete_prefix(redis, namespace)
    finally:
        await redis.aclose()


async def move_group_to_end(group_id: str) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from clipforge_common.events import CATALOG
    from clipforge_common.settings import Settings

    settings = Settings()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in sorted({s.topic for s in CATALOG}) for p in range(settings.kafka_partitions)
        ]
        consumer.assign(partitions)
        await consumer.commit(dict((await consumer.end_offsets(partitions)).items()))
    finally:
        await consumer.stop()


def print_result(label: str, r: Result) -> None:
    print(
        f"{label:<34} {r.rps:>9.0f} req/s   p50 {r.p50_ms:6.2f} ms   p99 {r.p99_ms:6.2f} ms   "
        f"server CPU {r.server_cpu_us:4.0f} us/req   ({r.requests} requests, {r.errors} errors)"
    )


async def run(args: argparse.Namespace) -> int:
    tool = args.tool
    if tool == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk), or use --tool python")
    unique = uuid.uuid4().hex[:10]
    database, namespace, group_id = f"clipforge_bench_{unique}", f"bench{unique}:", f"clipforge.gateway.bench.{unique}"
    gw_port, bare_port = free_port(), free_port()
    await move_group_to_end(group_id)
    gateway = spawn("--serve-gateway", str(gw_port), database, namespace, group_id)
    bare = spawn("--serve-bare", str(bare_port))
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT)
    try:
        gw_url, bare_url = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{bare_port}"
        await wait_healthy(f"{gw_url}/healthz")
        await wait_healthy(f"{bare_url}/bare")
        key, video_id = await prepare(database, gw_url)
        targets = [
            ("bare FastAPI constant", f"{bare_url}/bare", None),
            ("gateway cached GET video", f"{gw_url}/v1/videos/{video_id}", key),
        ]

        import psutil

        servers = {bare_url: psutil.Process(bare.pid), gw_url: psutil.Process(gateway.pid)}

        async def load(url: str, token: str | None, total: int) -> Result:
            server = servers[url.split("/v1/")[0].removesuffix("/bare")]
            before = sum(server.cpu_times()[:2])
            result = await _load(url, token, total)
            result.server_cpu_us = (sum(server.cpu_times()[:2]) - before) / max(result.requests, 1) * 1e6
            return result

        async def _load(url: str, token: str | None, total: int) -> Result:
            if tool == "wrk":
                seconds = args.duration if total == args.requests else max(1.0, args.duration / 5)
                return await asyncio.to_thread(wrk_load, url, token, seconds, args.connections, args.threads, script)
            return await python_load(url, token, total, args.connections)

        amount = f"{args.duration:g} s" if tool == "wrk" else f"{args.requests} requests"
        print(
            f"{amount} per target and round, {args.connections} connections, loopback, tool={tool}, "
            f"servers: uvicorn, 1 process each; {args.rounds} round(s), best shown"
        )
        best: dict[str, Result] = {}
        for _ in range(args.rounds):
            for name, url, token in targets:  # interleaved, so drift affects both alike
                await load(url, token, args.warmup)
                result = await load(url, token, args.requests)
                if result.errors:
                    raise RuntimeError(f"{name}: {result.errors} failed requests")
                if name not in best or result.rps > best[name].rps:
                    best[name] = result
        for name, _, _ in targets:
            print_result(name, best[name])
        gw, base = best["gateway cached GET video"], best["bare FastAPI constant"]
        ratio = gw.rps / base.rps
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        print(f"ratio gateway/bare (req/s): {ratio:.2f}  ({verdict} the target of {TARGET_RATIO})")
        print(f"ratio bare/gateway (server CPU per request): {base.server_cpu_us / gw.server_cpu_us:.2f}")
        return 0
    finally:
        for proc in (gateway, bare):
            proc.send_signal(signal.SIGTERM)
        for proc in (gateway, bare):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        script.unlink(missing_ok=True)
        await cleanup(database, namespace)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-gateway":
        port, database, namespace, group_id = sys.argv[2:6]
        asyncio.run(serve_gateway(int(port), database, namespace, group_id))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        asyncio.run(serve_bare(int(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30_000, help="measured requests per target and round")
    parser.add_argument("--warmup", type=int, default=3_000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (keep cores for the server)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tool", choices=["python", "wrk"], default="python")
    args = parser.parse_args()
    try:
        import uvloop  # the load generator should not be the bottleneck

        return uvloop.run(run(args))
    except ImportError:
        return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
