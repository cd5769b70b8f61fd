"""Real-time factor of the transcribe service against calling pocketsphinx directly, in the same run.

    python bench/asr.py [--seconds 60] [--runs 3]

For each run, the same 16 kHz WAV of a synthesized talk is transcribed twice, one after the other
(never concurrently, so both get the same CPU):

* direct:  ``transcribe_audio(wav, PocketsphinxEngine())`` in this process (engine already loaded);
* service: a real ``python -m clipforge_transcribe`` process on the local stack. The WAV is put where
  ingest puts it, ``video.ingested`` is published to Kafka and the clock stops when
  ``transcript.completed`` comes back (handler, job claim, S3 download, ASR, S3 upload, commit,
  outbox relay and Kafka in both directions). The job's own wall time (enqueued -> done, from its
  row) is shown too.

RTF = wall time / audio duration; the ratio service/direct is the cost of the distributed path
(target <= 1.1). Everything runs against the loopback stack (`clipforge stack up`); the service
instance gets its own consumer group, database and tenant, and everything it created is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the service harness of the integration tests is reused, not copied

from aiokafka import AIOKafkaProducer  # noqa: E402
from clipforge_common.db import drop_database  # noqa: E402
from clipforge_common.events import VideoIngested  # noqa: E402
from clipforge_common.ffmpeg import run_ffmpeg  # noqa: E402
from clipforge_common.sample_media import cached, cached_talk, talk_for_seconds  # noqa: E402
from clipforge_common.settings import Settings, get_settings  # noqa: E402
from clipforge_common.storage import ObjectStore, transcript_key, video_audio_key  # noqa: E402
from clipforge_transcribe.domain import PocketsphinxEngine, transcribe_audio, wav_duration  # noqa: E402

from tests.integration.common.clip_services import ServiceProcess, start_group_at_end, tenant_service  # noqa: E402
from tests.integration.pipeline_asr.harness import AsrStack, EventLog  # noqa: E402

TARGET_RATIO = 1.1
WAIT_SECONDS = 600.0  # per run: a guard against a hung service, far above any real run


def _loopback(settings: Settings) -> None:
    hosts = {
        "kafka": settings.kafka_bootstrap.split(",")[0].rsplit(":", 1)[0],
        "postgres": settings.pg_host,
        "s3": urlsplit(settings.s3_endpoint).hostname or "",
    }
    remote = {name: host for name, host in hosts.items() if host not in ("127.0.0.1", "localhost", "::1")}
    if remote:
        raise SystemExit(f"bench/asr.py runs on the loopback stack only; not on {remote}")


def _talk_wav(seconds: float) -> Path:
    """About ``seconds`` of synthesized talk as the 16 kHz mono WAV ingest would produce (cached)."""
    plan = talk_for_seconds(seconds)
    m4a, _ = cached_talk(plan.sentences, suffix=".m4a", paragraph_breaks=plan.paragraph_breaks)
    return cached(
        {"wav16": m4a.name},
        lambda out: run_ffmpeg(["-i", str(m4a), "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out)]),
        suffix=".wav",
    )


async def _service_run(
    asr: AsrStack, service: ServiceProcess, wav: Path, duration: float
) -> tuple[float, float, float]:
    """Publish ``video.ingested`` for a fresh video; seconds until ``transcript.completed``, of the job
    (enqueued -> done) and of its speech recognition."""
    video_id = asr.new_video()
    audio_key = video_audio_key(video_id)
    await asr.store.upload_file(wav, audio_key)
    data = VideoIngested(
        duration=duration,
        size=wav.stat().st_size,
        sha256=uuid.uuid4().hex * 2,  # unique: no duplicate reuse, every run really transcribes
        source_key=f"videos/{video_id}/source.wav",
        audio_key=audio_key,
        audio_codec="pcm_s16le",
    )
    began = time.perf_counter()
    await asr.publish("video.ingested", video_id, data)
    answer = await asr.events.wait_for(video_id, "transcript.completed", "transcript.failed", timeout=WAIT_SECONDS)
    elapsed = time.perf_counter() - began
    if answer.event_type != "transcript.completed":
        raise SystemExit(f"the service failed: {answer.data}")
    rows = await service.fetch(
        "SELECT extract(epoch FROM finished_at - created_at) AS s FROM jobs WHERE video_id = $1 AND kind = 'transcribe'",
        video_id,
    )
    job = rows[0]["s"]
    asr_seconds = _service_asr_seconds(service, video_id)
    return elapsed, float(job), float("nan") if asr_seconds is None else asr_seconds


def _service_asr_seconds(service: ServiceProcess, video_id: str) -> float | None:
    """The ASR time the service logged for the video (its "speech recognised" line)."""
    for raw in service.log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(raw)
            if entry.get("event") == "speech recognised" and entry.get("video_id") == video_id:
                return float(entry["asr_seconds"])
    return None


def _direct_run(engine: PocketsphinxEngine, wav: Path) -> float:
    began = time.perf_counter()
    transcribe_audio(wav, engine)
    return time.perf_counter() - began


async def main(seconds: float, runs: int) -> int:
    settings = get_settings()
    _loopback(settings)
    print(f"preparing ~{seconds:.0f} s of synthesized talk (cached after the first run)...", flush=True)
    wav = _talk_wav(seconds)
    duration = wav_duration(wav)

    events = EventLog(settings)
    await events.start()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    store = ObjectStore(settings)
    asr = AsrStack(settings, store, events, producer, tenant=f"bench-{uuid.uuid4().hex[:10]}", project="bench")
    logs = Path(tempfile.mkdtemp(prefix="clipforge-bench-asr-"))
    service = tenant_service("transcribe", settings, logs, asr.tenant)
    rows: list[tuple[float, float, float, float]] = []
    try:
        await start_group_at_end(settings, service.group_id, ["video.ingested", "video.deleted"])
        service.start()
        await service.wait_ready()
        engine = PocketsphinxEngine()
        await asyncio.to_thread(_direct_run, engine, wav)  # warm-up: model files into the page cache
        for _ in range(runs):
            direct = await asyncio.to_thread(_direct_run, engine, wav)
            e2e, job, asr_s = await _service_run(asr, service, wav, duration)
            rows.append((direct, e2e, job, asr_s))
    finally:
        service.stop()
        with contextlib.suppress(Exception):
            await drop_database(settings, service.database)
        for video_id in asr.videos:
            with contextlib.suppress(Exception):
                await store.delete_prefix(f"videos/{video_id}/")
                await store.delete(transcript_key(video_id))
        await producer.stop()
        await events.stop()

    def line(label: str, direct: float, e2e: float, job: float, asr_s: float) -> str:
        return (
            f"{label:<7} {duration:>8.1f} {direct:>9.2f} {direct / duration:>7.3f} {e2e:>9.2f} {e2e / duration:>7.3f}"
            f" {job:>8.2f} {asr_s:>8.2f} {e2e / direct:>10.3f} {job / direct:>10.3f}"
        )

    print()
    print("transcribe service vs pocketsphinx called directly (same WAV, same run, one after the other)")
    print(
        f"{'run':<7} {'audio s':>8} {'direct s':>9} {'RTF':>7} {'service s':>9} {'RTF':>7} {'job s':>8}"
        f" {'asr s':>8} {'e2e/direct':>10} {'job/direct':>10}"
    )
    for i, row in enumerate(rows, 1):
        print(line(str(i), *row))
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(line("median", *med))
    ratio = med[1] / med[0]
    verdict = "OK" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    print(f"\nservice RTF {med[1] / duration:.3f}, direct RTF {med[0] / duration:.3f}: ratio {ratio:.3f} "
          f"(target <= {TARGET_RATIO}) {verdict}")  # fmt: skip
    print(
        "service s: video.ingested published -> transcript.completed received; job s: job row created -> done;\n"
        "asr s: the service's own transcribe_audio call (from its log)."
    )
    print(f"service log: {service.log_path}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the talk (10..180 s)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (1..10)")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 10.0), 180.0)
    runs = min(max(args.runs, 1), 10)
    sys.exit(asyncio.run(main(seconds, runs)))
