"""The four infrastructure components of the native local stack.

Kafka (KRaft, combined broker+controller, jars from Maven Central), PostgreSQL and Redis (Debian
packages, private data directories) and S3Proxy (a real S3 server storing to disk). Each component
knows how to prepare its state, start, check its health and stop. Nothing here listens beyond
127.0.0.1.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipforge_common.settings import Settings
from clipforge_common.stack import processes
from clipforge_common.stack.maven import KAFKA_ARTIFACTS, S3PROXY_ARTIFACTS, resolve_classpath


class StackError(RuntimeError):
    pass


@dataclass
class Health:
    name: str
    endpoint: str
    healthy: bool
    managed: bool
    pids: list[int] = field(default_factory=list)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "healthy": self.healthy,
            "managed": self.managed,
            "pids": self.pids,
            "detail": self.detail,
        }


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Any, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    hint = ""
    if log is not None and log.exists():
        hint = (
            "\n--- last lines of " + str(log) + " ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        )
    raise StackError(f"{what} did not become healthy within {timeout:.0f}s{hint}")


def run_coroutine(coro: Any) -> Any:
    """Run a health-check coroutine from sync code, also when an event loop is already running
    (the stack is driven from async tests too): then it runs on a helper thread's own loop."""
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError("java is not on PATH; Kafka and S3Proxy need a Java 17+ runtime")
    return java


class Component:
    name: str

    def __init__(self, settings: Settings, state: Path) -> None:
        self.settings = settings
        self.state = state
        self.run_dir = state / "run"
        self.log_dir = state / "logs"

    @property
    def endpoint(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def process_names(self) -> list[str]:
        return [self.name]

    def managed(self) -> list[processes.ManagedProcess]:
        found = []
        for name in self.process_names():
            proc = processes.read_process(self.run_dir, name)
            if proc is not None and proc.alive():
                found.append(proc)
        return found

    def probe(self) -> tuple[bool, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def health(self) -> Health:
        managed = self.managed()
        try:
            ok, detail = self.probe()
        except Exception as exc:  # a health probe must never crash `status`
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        return Health(self.name, self.endpoint, ok, bool(managed), [p.pid for p in managed], detail)

    def start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> bool:
        stopped = False
        for name in reversed(self.process_names()):
            stopped |= processes.stop_process(self.run_dir, name)
        return stopped


# --------------------------------------------------------------------------------------------- Kafka


class Kafka(Component):
    name = "kafka"

    def __init__(self, settings: Settings, state: Path, brokers: int = 1) -> None:
        super().__init__(settings, state)
        self.brokers = brokers
        host, _, port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
        self.host = host or "127.0.0.1"
        self.base_port = int(port)

    def broker_port(self, i: int) -> int:
        return self.base_port + 100 * i

    def controller_port(self, i: int) -> int:
        return self.base_port + 1 + 100 * i

    @property
    def endpoint(self) -> str:
        return ",".join(f"{self.host}:{self.broker_port(i)}" for i in range(self.brokers))

    def process_names(self) -> list[str]:
        return [f"kafka-{i + 1}" for i in range(self.brokers)]

    def node_dir(self, i: int) -> Path:
        return self.state / f"kafka-x{self.brokers}" / f"node-{i + 1}"

    def running_brokers(self) -> int:
        """How many broker processes of any cluster size this stack started."""
        return sum(
            1
            for p in Path(self.run_dir).glob("kafka-*.pid.json")
            if (proc := processes.read_process(self.run_dir, p.name.removesuffix(".pid.json"))) and proc.alive()
        )

    def probe(self) -> tuple[bool, str]:
        up = [i for i in range(self.brokers) if port_open(self.host, self.broker_port(i))]
        if not up:
            return False, "no broker port answers"
        ok, detail = _kafka_metadata(self.endpoint)
        return ok and len(up) == self.brokers, f"{len(up)}/{self.brokers} brokers listening; {detail}"

    def _properties(self, i: int) -> str:
        n = self.brokers
        voters = ",".join(f"{j + 1}@{self.host}:{self.controller_port(j)}" for j in range(n))
        rf = min(3, n)
        min_isr = 2 if n >= 3 else 1
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={i + 1}",
                f"controller.quorum.voters={voters}",
                f"listeners=PLAINTEXT://{self.host}:{self.broker_port(i)},CONTROLLER://{self.host}:{self.controller_port(i)}",
                f"advertised.listeners=PLAINTEXT://{self.host}:{self.broker_port(i)}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.node_dir(i) / 'data'}",
                f"num.partitions={self.settings.kafka_partitions}",
                f"default.replication.factor={rf}",
                f"min.insync.replicas={min_isr}",
                f"offsets.topic.replication.factor={rf}",
                f"transaction.state.log.replication.factor={rf}",
                f"transaction.state.log.min.isr={min_isr}",
                # Topics are created explicitly from schemas/topics.yaml with the right partition count.
                "auto.create.topics.enable=false",
                "group.initial.rebalance.delay.ms=0",
                "log.segment.bytes=67108864",
                "",
            ]
        )

    def _log4j(self, i: int) -> Path:
        path = self.node_dir(i) / "log4j2.properties"
        log = self.log_dir / f"kafka-{i + 1}.server.log"
        path.write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = File",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {log}",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "logger.kafka.name = kafka",
                    "logger.kafka.level = INFO",
                    "logger.state.name = state.change.logger",
                    "logger.state.level = WARN",
                    "",
                ]
            )
        )
        return path

    def start(self) -> None:
        libs = resolve_classpath("kafka", KAFKA_ARTIFACTS, self.settings.home / "cache" / "maven")
        classpath = str(libs / "*")
        cluster_file = self.state / f"kafka-x{self.brokers}" / "cluster.id"
        cluster_file.parent.mkdir(parents=True, exist_ok=True)
        if not cluster_file.exists():
            # URL-safe base64 may start with "-": passed as --cluster-id=ID, never as a separate argument.
            cluster_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        cluster_id = cluster_file.read_text().strip()
        java = _java()
        for i in range(self.brokers):
            name = f"kafka-{i + 1}"
            existing = processes.read_process(self.run_dir, name)
            if existing is not None and existing.alive():
                continue
            node = self.node_dir(i)
            node.mkdir(parents=True, exist_ok=True)
            props = node / "server.properties"
            props.write_text(self._properties(i))
            log4j = self._log4j(i)
            if not (node / "data" / "meta.properties").exists():
                fmt = subprocess.run(
                    [java, "-cp", classpath, f"-Dlog4j2.configurationFile={log4j}", "kafka.tools.StorageTool",
                     "format", f"--cluster-id={cluster_id}", "-c", str(props), "--ignore-formatted"],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if fmt.returncode != 0:
                    raise StackError(f"formatting Kafka storage failed:\n{fmt.stdout}\n{fmt.stderr}")
            heap = self.settings.kafka_heap
            processes.start_process(
                self.run_dir,
                name,
                [java, "-Xms256m", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={self.log_dir}",
                 "-cp", classpath, "kafka.Kafka", str(props)],
                log_file=self.log_dir / f"{name}.out",
            )  # fmt: skip
        wait_until(lambda: self.probe()[0], 120, "Kafka", self.log_dir / "kafka-1.server.log")

    def stop_broker(self, index: int, *, kill: bool = False) -> bool:
        name = f"kafka-{index + 1}"
        if kill:
            return processes.kill_process(self.run_dir, name)
        return processes.stop_process(self.run_dir, name)

    def stop(self) -> bool:
        names = [p.name.removesuffix(".pid.json") for p in Path(self.run_dir).glob("kafka-*.pid.json")]
        return bool(processes.stop_processes(self.run_dir, names, timeout=45))


def _kafka_metadata(bootstrap: str) -> tuple[bool, str]:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def check() -> tuple[bool, str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await asyncio.wait_for(admin.start(), 5)
            cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
            return True, f"cluster {cluster.get('cluster_id')} with {len(cluster.get('brokers', []))} brokers"
        finally:
            await admin.close()

    try:
        return run_coroutine(check())
    except Exception as exc:
        return False, f"metadata request failed: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    raise StackError("PostgreSQL is not installed; install it with: apt-get install -y postgresql")


class Postgres(Component):
    name = "postgres"

    @property
    def endpoint(self) -> str:
        return f"{self.settings.pg_host}:{self.settings.pg_port}"

    def _run_as(self) -> str | None:
        # initdb and postgres refuse to run as root: run them as the postgres system user.
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise StackError("running as root needs the 'postgres' system user (apt-get install postgresql)") from exc
        return "postgres"

    def data_root(self) -> Path:
        root = self.state / "postgres"
        user = self._run_as()
        if user is None:
            return root
        # The postgres user must be able to reach the data directory; a checkout under /root is not.
        probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(self.state)], check=False)
        if probe.returncode == 0:
            return root
        digest = hashlib.sha256(str(self.state).encode()).hexdigest()[:12]
        return Path("/var/lib/clipforge") / digest / "postgres"

    def probe(self) -> tuple[bool, str]:
        if not port_open(self.settings.pg_host, self.settings.pg_port):
            return False, "port closed"

        import asyncpg

        async def check() -> str:
            conn = await asyncpg.connect(self.settings.pg_dsn("postgres"), timeout=3)
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        try:
            return True, "PostgreSQL " + run_coroutine(check())
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"

    def start(self) -> None:
        existing = processes.read_process(self.run_dir, self.name)
        if existing is not None and existing.alive():
            wait_until(lambda: self.probe()[0], 60, "PostgreSQL", self.log_dir / "postgres.log")
            return
        bindir = _pg_bindir()
        user = self._run_as()
        root = self.data_root()
        data = root / "data"
        sock = root / "sock"
        root.mkdir(parents=True, exist_ok=True)
        sock.mkdir(parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(root, user)
            shutil.chown(sock, user)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not (data / "PG_VERSION").exists():
            pwfile = root / "pwfile"
            pwfile.write_text(self.settings.pg_password + "\n")
            if user is not None:
                shutil.chown(pwfile, user)
            init = subprocess.run(
                [str(bindir / "initdb"), "-D", str(data), "-U", self.settings.pg_user, f"--pwfile={pwfile}",
                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                capture_output=True, text=True, check=False, user=user,
            )  # fmt: skip
            pwfile.unlink(missing_ok=True)
            if init.returncode != 0:
                raise StackError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        log = self.log_dir / "postgres.log"
        if user is not None and not log.exists():
            log.touch()
        processes.start_process(
            self.run_dir,
            self.name,
            [str(bindir / "postgres"), "-D", str(data), "-p", str(self.settings.pg_port), "-k", str(sock),
             "-c", f"listen_addresses={self.settings.pg_host}", "-c", "max_connections=400",
             # A local development stack: durability of the OS page cache is enough and much faster.
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "shared_buffers=128MB"],
            log_file=log,
            user=user,
        )  # fmt: skip
        wait_until(lambda: self.probe()[0], 60, "PostgreSQL", log)
        self.ensure_databases()

    def stop(self) -> bool:
        # SIGINT is PostgreSQL's fast shutdown: SIGTERM (smart) would wait for every pooled
        # connection of the running services to close on its own.
        return processes.stop_process(self.run_dir, self.name, sig=signal.SIGINT)

    def ensure_databases(self) -> None:

        import asyncpg

        from clipforge_common.settings import SERVICES

        async def create() -> None:
            conn = await asyncpg.connect(self.settings.pg_dsn("postgres"), timeout=5)
            try:
                existing = {r[0] for r in await conn.fetch("SELECT datname FROM pg_database")}
                for service in SERVICES:
                    db = self.settings.database_for(service)
                    if db not in existing:
                        await conn.execute(f'CREATE DATABASE "{db}"')
            finally:
                await conn.close()

        run_coroutine(create())


# --------------------------------------------------------------------------------------------- Redis


def _redis_host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


class Redis(Component):
    name = "redis"

    @property
    def endpoint(self) -> str:
        host, port = _redis_host_port(self.settings.redis_url)
        return f"{host}:{port}"

    def probe(self) -> tuple[bool, str]:
        import redis

        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
            return True, "Redis " + str(client.info("server").get("redis_version"))
        finally:
            client.close()

    def start(self) -> None:
        existing = processes.read_process(self.run_dir, self.name)
        if existing is None or not existing.alive():
            server = shutil.which("redis-server") or "/usr/bin/redis-server"
            if not Path(server).exists():
                raise StackError("redis-server is not installed; install it with: apt-get install -y redis-server")
            host, port = _redis_host_port(self.settings.redis_url)
            data = self.state / "redis"
            data.mkdir(parents=True, exist_ok=True)
            processes.start_process(
                self.run_dir,
                self.name,
                [server, "--bind", host, "--port", str(port), "--dir", str(data), "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"],
                log_file=self.log_dir / "redis.log",
            )  # fmt: skip
        wait_until(lambda: self.health().healthy, 30, "Redis", self.log_dir / "redis.log")


# ------------------------------------------------------------------------------------------- S3Proxy


class S3Proxy(Component):
    name = "s3"

    @property
    def endpoint(self) -> str:
        return self.settings.s3_endpoint

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.settings.s3_endpoint,
            aws_access_key_id=self.settings.s3_access_key,
            aws_secret_access_key=self.settings.s3_secret_key,
            region_name=self.settings.s3_region,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=5,
                          retries={"max_attempts": 1}),
        )  # fmt: skip

    def probe(self) -> tuple[bool, str]:
        from urllib.parse import urlparse

        parsed = urlparse(self.settings.s3_endpoint)
        if not port_open(parsed.hostname or "127.0.0.1", parsed.port or 80):
            return False, "port closed"
        client = self._client()
        client.head_bucket(Bucket=self.settings.s3_bucket)
        return True, f"bucket {self.settings.s3_bucket} reachable"

    def start(self) -> None:
        from urllib.parse import urlparse

        existing = processes.read_process(self.run_dir, self.name)
        if existing is None or not existing.alive():
            libs = resolve_classpath("s3proxy", S3PROXY_ARTIFACTS, self.settings.home / "cache" / "maven")
            blobs = self.state / "s3" / "blobs"
            blobs.mkdir(parents=True, exist_ok=True)
            conf = self.state / "s3" / "s3proxy.properties"
            s = self.settings
            conf.write_text(
                "\n".join(
                    [
                        f"s3proxy.endpoint={s.s3_endpoint}",
                        "s3proxy.authorization=aws-v2-or-v4",
                        f"s3proxy.identity={s.s3_access_key}",
                        f"s3proxy.credential={s.s3_secret_key}",
                        "s3proxy.cors-allow-all=true",
                        "jclouds.provider=filesystem",
                        f"jclouds.filesystem.basedir={blobs}",
                        f"jclouds.identity={s.s3_access_key}",
                        f"jclouds.credential={s.s3_secret_key}",
                        "",
                    ]
                )
            )
            processes.start_process(
                self.run_dir,
                self.name,
                [
                    _java(),
                    "-Xmx384m",
                    "-cp",
                    str(libs / "*"),
                    "org.gaul.s3proxy.Main",
                    "--properties",
                    str(conf),
                ],
                log_file=self.log_dir / "s3proxy.log",
            )
        parsed = urlparse(self.settings.s3_endpoint)
        wait_until(lambda: port_open(parsed.hostname or "127.0.0.1", parsed.port or 80), 60, "S3Proxy",
                   self.log_dir / "s3proxy.log")  # fmt: skip
        self.ensure_bucket()
        wait_until(lambda: self.health().healthy, 30, "S3Proxy", self.log_dir / "s3proxy.log")

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        client = self._client()
        deadline = time.monotonic() + 30
        while True:
            try:
                client.head_bucket(Bucket=self.settings.s3_bucket)
                return
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code"))
                if code in {"404", "NoSuchBucket", "NotFound"}:
                    client.create_bucket(Bucket=self.settings.s3_bucket)
                    return
                if time.monotonic() > deadline:
                    raise
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)
