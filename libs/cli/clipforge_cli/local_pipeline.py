"""The whole pipeline in one process, with no infrastructure: the domain cores of ingest,
transcribe, rank and render called in order. `clipforge clip --local` runs it, and benchmarks use
it as the baseline for the distributed pipeline."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clipforge_common.transcript import Transcript
from clipforge_ingest.domain import IngestLimits, IngestRejected, ingest_file
from clipforge_rank.domain import RankedClip, rank_transcript
from clipforge_render.domain import CaptionStyle, RenderOutputs, render_clip
from clipforge_transcribe.domain import make_engine, transcribe_audio

# (stage, fraction 0..1, message)
StageProgress = Callable[[str, float, str], None]


class PipelineFailed(Exception):
    """A stage failed; ``stage`` and ``reason_code`` say where and why."""

    def __init__(self, stage: str, reason_code: str, message: str) -> None:
        super().__init__(f"{stage} failed ({reason_code}): {message}")
        self.stage = stage
        self.reason_code = reason_code
        self.message = message


@dataclass
class LocalResult:
    transcript: Transcript
    clips: list[RankedClip]
    renders: dict[str, RenderOutputs] = field(default_factory=dict)
    ranker_version: str = ""


def _noop(_stage: str, _fraction: float, _message: str) -> None:
    return None


def run_local(
    source: Path,
    work_dir: Path | None = None,
    *,
    top: int = 3,
    preset: str = "vertical",
    engine: str = "pocketsphinx",
    style: CaptionStyle | None = None,
    progress: StageProgress = _noop,
) -> LocalResult:
    """Clip ``source`` end to end; renders the ``top`` best clips into ``work_dir/<clip_id>/``."""
    work = Path(work_dir or tempfile.mkdtemp(prefix="clipforge-local-"))
    work.mkdir(parents=True, exist_ok=True)

    progress("ingest", 0.0, "probing")
    try:
        ingested = ingest_file(source, work / "ingest", IngestLimits(), lambda f: progress("ingest", f, "extracting"))
    except IngestRejected as exc:
        raise PipelineFailed("ingest", exc.reason_code, exc.message) from exc
    progress("ingest", 1.0, "done")

    video_id = "local-" + ingested.sha256[:16]
    try:
        transcript = transcribe_audio(
            ingested.audio_path,
            make_engine(engine),
            on_progress=lambda f: progress("transcribe", f, "recognising speech"),
            video_id=video_id,
        )
    except Exception as exc:
        raise PipelineFailed("transcribe", getattr(exc, "reason_code", "asr_error"), str(exc)) from exc
    progress("transcribe", 1.0, f"{len(transcript.words)} words")

    progress("rank", 0.0, "scoring candidates")
    try:
        ranked = rank_transcript(transcript, audio_path=ingested.audio_path, video_id=video_id)
    except Exception as exc:
        raise PipelineFailed("rank", "rank_error", str(exc)) from exc
    progress("rank", 1.0, f"{len(ranked.clips)} clips")
    result = LocalResult(transcript=transcript, clips=list(ranked.clips), ranker_version=ranked.ranker_version)

    chosen = result.clips[:top]
    for index, clip in enumerate(chosen):

        def on_render(fraction: float, index: int = index) -> None:
            progress("render", (index + fraction) / max(len(chosen), 1), f"clip {index + 1}/{len(chosen)}")

        try:
            result.renders[clip.clip_id] = render_clip(
                ingested.source_path,
                clip,
                transcript.words,
                preset,
                style or CaptionStyle(),
                work / "renders" / clip.clip_id,
                on_progress=on_render,
                transcript=transcript,
            )
        except Exception as exc:
            raise PipelineFailed("render", "render_error", str(exc)) from exc
    progress("render", 1.0, f"{len(chosen)} rendered")
    return result
