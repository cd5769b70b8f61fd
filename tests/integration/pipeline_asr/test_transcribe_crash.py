"""kill -9 of the transcribe process in the middle of an ASR job, then a restart: the job's lease expires,
it is claimed again and completes once — exactly one ``transcript.completed`` on the topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clipforge_common.events import VideoIngested
from clipforge_common.ffmpeg import run_ffmpeg
from clipforge_common.sample_media import SpeechScript, cached
from clipforge_common.storage import video_audio_key

from tests.integration.common.clip_services import ServiceProcess, start_group_at_end, tenant_service
from tests.integration.pipeline_asr.harness import AsrStack

pytestmark = pytest.mark.slow
LEASE_SECONDS = 4


@pytest.fixture
async def doomed_transcribe(asr_base: AsrStack, service_logs: Path) -> AsyncIterator[tuple[ServiceProcess, str]]:
    """A transcribe instance of its own (group, database) serving a tenant nobody else serves."""
    tenant = asr_base.tenant + "-crash"
    service = tenant_service(
        "transcribe",
        asr_base.settings,
        service_logs,
        tenant,
        CLIPFORGE_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
        # Small chunks: progress after every ~10 s of audio, so the kill lands mid-recognition.
        CLIPFORGE_TRANSCRIBE_CHUNK_SECONDS="10",
    )
    await start_group_at_end(asr_base.settings, service.group_id, ["video.ingested", "video.deleted"])
    try:
        yield service, tenant
    finally:
        service.stop()
        await service.drop_database()


async def test_killed_mid_job_completes_exactly_once(
    asr_base: AsrStack, doomed_transcribe: tuple[ServiceProcess, str], talk_video: tuple[Path, SpeechScript]
) -> None:
    service, tenant = doomed_transcribe
    events = asr_base.events
    mp4, script = talk_video
    wav = cached(
        {"wav16": mp4.name},
        lambda out: run_ffmpeg(["-i", str(mp4), "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out)]),
        suffix=".wav",
    )
    video_id = asr_base.new_video()
    await asr_base.store.upload_file(wav, video_audio_key(video_id))
    ingested = VideoIngested(
        duration=script.duration,
        size=wav.stat().st_size,
        sha256="0" * 64,
        source_key=f"videos/{video_id}/source.wav",
        audio_key=video_audio_key(video_id),
        audio_codec="pcm_s16le",
    )

    service.start()
    await service.wait_ready()
    cause = await asr_base.publish("video.ingested", video_id, ingested, tenant=tenant)

    async def mid_recognition() -> bool:
        return any(
            e.data["stage"] == "transcribe" and 20 <= e.data["percent"] <= 80
            for e in events.of(video_id, "pipeline.progress")
        )

    await asr_base.eventually(mid_recognition, True)
    service.kill9()  # the whole process group, as when its container dies

    jobs_sql = "SELECT status, attempts FROM jobs WHERE kind = 'transcribe' AND video_id = $1"
    job = (await service.fetch(jobs_sql, video_id))[0]
    assert (job["status"], job["attempts"]) == ("running", 1), "the kill must land in the middle of the job"
    assert not events.of(video_id, "transcript.completed")

    service.start()  # same group and database: the restarted instance reclaims the job once its lease expires
    await service.wait_ready()
    completed = await events.wait_for(video_id, "transcript.completed", "transcript.failed")
    assert completed.event_type == "transcript.completed", completed.data
    assert completed.causation_id == cause.event_id
    assert completed.data["word_count"] > 100

    # Let every row of the outbox reach Kafka and the event log read to the end of the topic.
    async def outbox_pending() -> int:
        return int((await service.fetch("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))[0][0])

    await asr_base.eventually(outbox_pending, 0)
    await events.caught_up("transcript.completed")
    await events.caught_up("transcript.failed")

    assert len(events.of(video_id, "transcript.completed")) == 1
    assert events.of(video_id, "transcript.failed") == []
    jobs = await service.fetch(jobs_sql, video_id)
    assert [(j["status"], j["attempts"]) for j in jobs] == [("done", 2)], "one job, run twice, finished once"
    processed = await service.fetch("SELECT count(*) FROM processed_events WHERE event_id = $1", cause.event_id)
    assert processed[0][0] == 1
    row = (await service.fetch("SELECT status, word_count FROM transcripts WHERE video_id = $1", video_id))[0]
    assert (row["status"], row["word_count"]) == ("done", completed.data["word_count"])
    assert service.stop() == 0, service.log_tail()
