"""`clipforge sample` and `clipforge clip`: make a sample talk, turn a video into ranked clips."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import typer

from clipforge_cli.local_pipeline import LocalResult, PipelineFailed, run_local
from clipforge_cli.output import StageBars, console, print_table, progress_bars, slugify, write_outputs

PRESETS = ("vertical", "square", "landscape")


def _local_outputs(result: LocalResult, out_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    clips: list[dict[str, Any]] = []
    for rank, clip in enumerate(result.clips, start=1):
        files: dict[str, str | None] = {}
        render = result.renders.get(clip.clip_id)
        if render is not None:
            stem = f"{rank:02d}-{slugify(clip.title)}"
            for kind, path in (
                ("video", render.video_path),
                ("thumbnail", render.thumbnail_path),
                ("srt", render.srt_path),
                ("vtt", render.vtt_path),
            ):
                if path is not None:
                    target = out_dir / f"{stem}{Path(path).suffix}"
                    shutil.copyfile(path, target)
                    files[kind] = target.name
        clips.append(
            {
                "rank": rank,
                "clip_id": clip.clip_id,
                "start": clip.start,
                "end": clip.end,
                "score": clip.score,
                "title": clip.title,
                "hook": clip.hook,
                "reasons": clip.reasons,
                "features": clip.features,
                "ranker_version": result.ranker_version,
                "files": files,
            }
        )
    transcript = {
        "language": result.transcript.language,
        "engine": result.transcript.engine,
        "duration": result.transcript.duration,
        "words": [w.model_dump(include={"word", "start", "end", "confidence"}) for w in result.transcript.words],
        "sentences": [s.model_dump(include={"text", "start", "end"}) for s in result.transcript.sentences],
    }
    return clips, transcript


def register(app: typer.Typer) -> None:
    @app.command()
    def sample(
        out: Path = typer.Argument(..., help="where to write the talk (.mp4, or .m4a/.mp3/.wav for audio only)"),
        seconds: float = typer.Option(90.0, min=10, max=900, help="approximate length"),
        face: str = typer.Option("left", help="left | right | moving | none"),
    ) -> None:
        """Create a sample talk offline: synthesized speech and a face on a 16:9 canvas."""
        from clipforge_common.sample_media import make_sample

        if face not in ("left", "right", "moving", "none"):
            raise typer.BadParameter("face must be left, right, moving or none")
        with console.status(f"synthesizing about {seconds:.0f} s of talk"):
            script = make_sample(out, seconds, face=face)  # type: ignore[arg-type]
        typer.echo(f"{out}: {script.duration:.1f} s, {len(script.sentences)} sentences")

    @app.command()
    def clip(
        source: str = typer.Argument(..., help="a video or audio file, or an http(s) URL"),
        out: Path = typer.Option(Path("clips"), "--out", help="output directory"),
        top: int = typer.Option(3, min=0, max=20, help="how many of the best clips to render"),
        preset: str = typer.Option("vertical", help="vertical | square | landscape"),
        local: bool = typer.Option(False, "--local", help="run the domain cores in this process, no services"),
    ) -> None:
        """Turn a long talking video into ranked, captioned clips in OUT."""
        if preset not in PRESETS:
            raise typer.BadParameter(f"preset must be one of {', '.join(PRESETS)}")
        if not local:
            from clipforge_cli.remote_clip import clip_through_gateway

            clip_through_gateway(source, out, top=top, preset=preset)
            return
        path = Path(source)
        if not path.is_file():
            typer.echo(f"error: {source} is not a file (URLs need the services: drop --local)", err=True)
            raise typer.Exit(2)
        work = out / ".work"
        try:
            with progress_bars() as bars:
                result = run_local(path, work, top=top, preset=preset, progress=StageBars(bars))
        except PipelineFailed as exc:
            typer.echo(f"error: the {exc.stage} stage failed ({exc.reason_code}): {exc.message}", err=True)
            raise typer.Exit(1) from exc
        clips, transcript = _local_outputs(result, out)
        write_outputs(out, clips, transcript)
        shutil.rmtree(work, ignore_errors=True)
        print_table(clips[: max(top, 10)])
        typer.echo(f"wrote {out / 'clips.json'} and {out / 'transcript.json'}")
