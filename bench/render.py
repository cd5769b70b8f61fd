"""Render cost of the service's render path against one direct ffmpeg command, and the render
worker's peak memory on a 10-minute 1080p source.

    python bench/render.py [--clip-seconds 45] [--runs 3] [--no-memory]

Source: 10 minutes of 1920x1080 30 fps H.264/AAC (a 16:9 canvas, the astronaut photo drifting
across it, synthesized speech looped), generated with ffmpeg lavfi and cached under .cache/media
(the first run spends ~8 minutes on two cores making it; later runs take ~3 minutes in all).

1. Time (same run, alternating, never concurrently): a ``--clip-seconds`` clip from the middle of the
   source rendered to the vertical preset (1080x1920, captions burned in)

   * path:   ``render_clip`` as the render worker calls it (probe, face detection and crop path,
             captions, the clip encode, the thumbnail, SRT/VTT, output probe);
   * direct: the single equivalent ffmpeg command (same cut, same crop path, same ASS captions, same
             encoder settings) run directly, the floor any render of that clip costs.

   ratio = median(path) / median(direct), target <= 1.10.

2. Memory: a real ``python -m clipforge_render`` process on the local stack (own consumer group,
   database and tenant) renders the same clip from the 10-minute source stored in S3, driven by
   ``video.ingested`` + ``clips.ranked`` through Kafka. The resident memory of the worker process
   and its children (ffmpeg, ffprobe) is sampled every 50 ms; target: peak of the whole tree
   < 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the service harness of the integration tests is reused, not copied

import psutil  # noqa: E402
from clipforge_common.events import ClipsRanked, RankedClipData  # noqa: E402
from clipforge_common.ffmpeg import ffprobe, run_ffmpeg  # noqa: E402
from clipforge_common.sample_media import cached, cached_talk, talk_for_seconds  # noqa: E402
from clipforge_common.settings import Settings, get_settings  # noqa: E402
from clipforge_common.transcript import Sentence, Transcript, Word  # noqa: E402
from clipforge_render.config import RenderConfig  # noqa: E402
from clipforge_render.domain import CaptionStyle, CropPath, RenderOutputs, plan_render, write_ass  # noqa: E402
from clipforge_render.worker import render_with  # noqa: E402

from tests.integration.common.clip_services import (  # noqa: E402
    EventLog,
    asr_transcript,
    event,
    publish,
    remove_video,
    start_service,
    store_video,
    wav16,
)

TARGET_RATIO = 1.10
TARGET_PEAK_MB = 500.0
SOURCE_SECONDS = 600.0
WAIT_SECONDS = 900.0  # guard against a hung service, far above any real run
PRESET = "vertical"


# ------------------------------------------------------------------------------------------ media


def _face_png(path: Path, side: int) -> None:
    import cv2
    from skimage import data as skdata

    img = cv2.resize(skdata.astronaut()[:, :, ::-1], (side, side), interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(str(path), img):
        raise RuntimeError(f"could not write {path}")


def long_source() -> tuple[Path, Transcript]:
    """The 10-minute 1080p talk (cached) and its transcript (a 60 s talk's real ASR, tiled)."""
    plan = talk_for_seconds(60)
    speech, script = cached_talk(plan.sentences, suffix=".wav", paragraph_breaks=plan.paragraph_breaks)
    loop = script.duration

    def build(out: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="clipforge-bench-") as tmp:
            png = Path(tmp) / "face.png"
            side = 864  # 80 % of the height, like the test media
            _face_png(png, side)
            span = 1920 - side - 2 * 160
            # The face drifts left and right (40 s period), so the crop path really pans.
            x = f"'160+{span}*(0.5+0.5*sin(2*PI*t/40))'"
            run_ffmpeg(
                [
                    "-f", "lavfi", "-i", f"color=c=0x1f2a36:s=1920x1080:r=30:d={SOURCE_SECONDS}",
                    "-loop", "1", "-framerate", "30", "-i", str(png),
                    "-stream_loop", "-1", "-i", str(speech),
                    "-filter_complex", f"[0:v][1:v]overlay=x={x}:y={(1080 - side) // 2}:shortest=1:eval=frame,"
                    "format=yuv420p[v]",
                    "-map", "[v]", "-map", "2:a",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-g", "60",
                    "-c:a", "aac", "-b:a", "128k", "-ar", "48000",
                    "-t", f"{SOURCE_SECONDS}", "-movflags", "+faststart", str(out),
                ],
                duration=SOURCE_SECONDS,
            )  # fmt: skip

    source = cached(
        {"kind": "bench-render-1080p", "seconds": SOURCE_SECONDS, "speech": speech.name}, build, suffix=".mp4"
    )
    one = asr_transcript(wav16(speech))
    return source, _tile(one, loop, SOURCE_SECONDS)


def _tile(transcript: Transcript, loop: float, total: float) -> Transcript:
    """The transcript of ``transcript``'s audio looped end to end for ``total`` seconds."""
    words: list[Word] = []
    sentences: list[Sentence] = []
    k = 0
    while k * loop < total:
        offset = k * loop
        base = len(words)
        for s in transcript.sentences:
            if s.end + offset > total:
                break
            chunk = transcript.words[s.first_word : s.last_word + 1]
            first = len(words)
            words += [w.model_copy(update={"start": w.start + offset, "end": w.end + offset}) for w in chunk]
            sentences.append(
                s.model_copy(
                    update={
                        "start": s.start + offset,
                        "end": s.end + offset,
                        "first_word": first,
                        "last_word": len(words) - 1,
                    }
                )
            )
        if len(words) == base:
            break
        k += 1
    return transcript.model_copy(update={"words": words, "sentences": sentences, "duration": total})


def pick_clip(transcript: Transcript, seconds: float) -> RankedClipData:
    """Whole sentences from the middle of the source lasting about ``seconds``."""
    middle = transcript.duration / 2
    first = next(i for i, s in enumerate(transcript.sentences) if s.start >= middle)
    last = first
    while (
        last + 1 < len(transcript.sentences)
        and transcript.sentences[last + 1].end - transcript.sentences[first].start <= seconds
    ):
        last += 1
    a, b = transcript.sentences[first], transcript.sentences[last]
    return RankedClipData(clip_id=str(uuid.uuid4()), start=a.start, end=b.end, score=90.0, title="bench clip")


# ------------------------------------------------------------------------------------------- time


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def time_path(
    source: Path, clip: RankedClipData, transcript: Transcript, out: Path
) -> tuple[float, float, RenderOutputs]:
    """The render worker's call with the service's default settings: wall and CPU seconds (this
    process, where render_clip runs, plus its ffmpeg/ffprobe children)."""
    cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    outputs = render_with(RenderConfig(), source, clip, transcript, PRESET, CaptionStyle(), out)
    wall = time.perf_counter() - began
    return wall, _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - cpu, outputs


def direct_command(
    source: Path, clip: RankedClipData, transcript: Transcript, crop: CropPath | None, work: Path
) -> list[str]:
    """The one ffmpeg command that makes the same clip video (same crop path and captions)."""
    preset = RenderConfig().preset(PRESET)  # the service's preset: same encoder and thread settings
    ass = write_ass(work / "captions.ass", transcript.words, clip.start, clip.end, CaptionStyle(), preset)
    plan = plan_render(
        source,
        clip.start,
        clip.end,
        preset,
        crop_path=crop,
        ass_path=ass,
        out=work / "direct.mp4",  # type: ignore[arg-type]
    )
    return plan.command()


def time_direct(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the one ffmpeg command."""
    cpu = _cpu(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return time.perf_counter() - began, _cpu(resource.RUSAGE_CHILDREN) - cpu


# ----------------------------------------------------------------------------------------- memory


class TreeSampler:
    """Peak resident memory of a process and its descendants, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_total = self.peak_worker = self.peak_children = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                worker = self.root.memory_info().rss
                children = 0
                for child in self.root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        children += child.memory_info().rss
                self.peak_worker = max(self.peak_worker, worker)
                self.peak_children = max(self.peak_children, children)
                self.peak_total = max(self.peak_total, worker + children)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def measure_memory(
    settings: Settings, source: Path, transcript: Transcript, clip: RankedClipData, logs: Path
) -> tuple[TreeSampler, float, float]:
    """Peak memory of a render service process rendering ``clip``; also the job's and e2e seconds."""
    consumes = ("ingest.requested", "video.ingested", "clips.ranked", "render.requested", "video.deleted")
    service = await start_service("render", settings, logs, consumes, CLIPFORGE_RENDER_TOP_K="1")
    events = await EventLog(settings, ("clip.rendered", "clip.render_failed")).start()
    video = await store_video(settings, source, transcript, tenant_id=service.tenant_id)
    try:
        assert service.proc is not None
        ranked = ClipsRanked(ranker_version="bench", transcript_key=video.transcript_key, clips=[clip])
        with TreeSampler(service.proc.pid) as sampler:
            began = time.perf_counter()
            await publish(
                settings,
                video.ingested(source),
                event("clips.ranked", ranked, video_id=video.video_id, tenant_id=video.tenant_id),
            )
            # This instance's own answer: a `clipforge up` beside the bench would answer the same event.
            own = await events.wait_own(
                service, lambda evs: any(e.video_id == video.video_id for e in evs), timeout=WAIT_SECONDS
            )
            e2e = time.perf_counter() - began
        answer = next(e for e in own if e.video_id == video.video_id)
        if answer.event_type != "clip.rendered":
            raise SystemExit(f"the service failed: {answer.data}")
        job = await service.fetch(
            "SELECT extract(epoch FROM finished_at - created_at) AS s FROM jobs WHERE video_id = $1", video.video_id
        )
        return sampler, float(job[0]["s"]), e2e
    finally:
        await publish(settings, video.deleted())
        await events.stop()
        service.stop()
        with contextlib.suppress(Exception):
            await service.drop_database()
        await remove_video(settings, video, [clip.clip_id])


# ------------------------------------------------------------------------------------------- main


def _loopback(settings: Settings) -> None:
    hosts = {
        "kafka": settings.kafka_bootstrap.split(",")[0].rsplit(":", 1)[0],
        "s3": urlsplit(settings.s3_endpoint).hostname,
    }
    remote = {name: host for name, host in hosts.items() if host not in ("127.0.0.1", "localhost", "::1")}
    if remote:
        raise SystemExit(f"bench/render.py runs on the loopback stack only; not on {remote}")


async def main(clip_seconds: float, runs: int, memory: bool) -> int:
    print(f"preparing the {SOURCE_SECONDS / 60:.0f}-minute 1080p source (cached after the first run)...", flush=True)
    source, transcript = long_source()
    clip = pick_clip(transcript, clip_seconds)
    duration = clip.end - clip.start
    info = ffprobe(source)
    size_mb = int(info["format"]["size"]) / 1e6
    print(f"source {source.name}: {float(info['format']['duration']):.0f} s, {size_mb:.0f} MB; "
          f"clip {clip.start:.1f}-{clip.end:.1f} s ({duration:.1f} s) -> {PRESET}", flush=True)  # fmt: skip

    rows: list[tuple[float, float, float, float]] = []  # direct wall, path wall, direct cpu, path cpu
    with tempfile.TemporaryDirectory(prefix="clipforge-bench-render-") as tmp_s:
        tmp = Path(tmp_s)
        # Warm-up (page cache, font cache) and the crop path the direct command reuses.
        *_, outputs = await asyncio.to_thread(time_path, source, clip, transcript, tmp / "warm")
        command = direct_command(source, clip, transcript, outputs.crop_path, tmp)
        for i in range(runs):
            # Alternate which goes first so neither always gets the warmer cache.
            order = ("direct", "path") if i % 2 == 0 else ("path", "direct")
            got: dict[str, tuple[float, float]] = {}
            for name in order:
                if name == "direct":
                    got[name] = await asyncio.to_thread(time_direct, command)
                else:
                    wall, cpu, _ = await asyncio.to_thread(time_path, source, clip, transcript, tmp / f"run{i}")
                    got[name] = (wall, cpu)
            rows.append((got["direct"][0], got["path"][0], got["direct"][1], got["path"][1]))
            print(f"  run {i + 1}: direct {got['direct'][0]:.2f} s, path {got['path'][0]:.2f} s", flush=True)

    sampler = None
    job_s = e2e_s = float("nan")
    if memory:
        settings = get_settings()
        _loopback(settings)
        logs = Path(tempfile.mkdtemp(prefix="clipforge-bench-render-logs-"))
        print("rendering the same clip through a render service process for the memory peak...", flush=True)
        sampler, job_s, e2e_s = await measure_memory(settings, source, transcript, clip, logs)

    print()
    print(f"render of a {duration:.1f} s clip to {PRESET} 1080x1920 (captions, face-following crop)")
    header = f"{'run':<7} {'direct s':>9} {'path s':>9} {'path/direct':>12}   {'direct cpu':>10} {'path cpu':>9} {'ratio':>6}"
    print(header)

    def line(label: str, dw: float, pw: float, dc: float, pc: float) -> str:
        return f"{label:<7} {dw:>9.2f} {pw:>9.2f} {pw / dw:>12.3f}   {dc:>10.2f} {pc:>9.2f} {pc / dc:>6.3f}"

    for i, row in enumerate(rows, 1):
        print(line(str(i), *row))
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(line("median", *med))
    ratio = med[1] / med[0]
    ok_ratio = ratio <= TARGET_RATIO
    print(f"\nratio {ratio:.3f} (wall, medians; target <= {TARGET_RATIO:.2f}) {'OK' if ok_ratio else 'ABOVE TARGET'};"
          f" CPU-time ratio {med[3] / med[2]:.3f}")  # fmt: skip
    ok_memory = True
    if sampler is not None:
        mb = 1024 * 1024
        print(f"\nrender service process on the {SOURCE_SECONDS / 60:.0f}-minute 1080p source (same clip, from S3):")
        print(
            f"  {'peak RSS, worker + children':<34} {sampler.peak_total / mb:>8.0f} MB   (target < {TARGET_PEAK_MB:.0f})"
        )
        print(f"  {'peak RSS, worker process':<34} {sampler.peak_worker / mb:>8.0f} MB")
        print(f"  {'peak RSS, children (ffmpeg...)':<34} {sampler.peak_children / mb:>8.0f} MB")
        print(f"  {'job (enqueued -> done)':<34} {job_s:>8.2f} s   (S3 download of the source + render + upload)")
        print(f"  {'clips.ranked -> clip.rendered':<34} {e2e_s:>8.2f} s")
        ok_memory = sampler.peak_total / mb < TARGET_PEAK_MB
        print(f"\npeak memory {'OK' if ok_memory else 'ABOVE TARGET'}")
    print("direct: the single ffmpeg command (cut, crop path, captions, encode); path: render_clip as the worker"
          " calls it.")  # fmt: skip
    return 0 if ok_ratio and ok_memory else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip-seconds", type=float, default=45.0, help="clip length (10..90 s)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (1..7)")
    parser.add_argument("--no-memory", action="store_true", help="skip the service memory measurement")
    args = parser.parse_args()
    sys.exit(
        asyncio.run(main(min(max(args.clip_seconds, 10.0), 90.0), min(max(args.runs, 1), 7), memory=not args.no_memory))
    )
