-- clipforge_rank: the service's own tables (processed_events, outbox and jobs come from clipforge_common).

-- What rank keeps from earlier events of a video (it never asks another service).
CREATE TABLE IF NOT EXISTS rank_videos (
    video_id        text PRIMARY KEY,
    tenant_id       text NOT NULL,
    audio_key       text,               -- from video.ingested: 16 kHz WAV for loudness features
    duration        double precision,
    transcript_key  text,               -- from transcript.completed
    engine          text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per (video, ranker version): what produced the clips below.
CREATE TABLE IF NOT EXISTS rankings (
    video_id          text NOT NULL,
    ranker_version    text NOT NULL,
    tenant_id         text NOT NULL,
    transcript_key    text NOT NULL,
    config            jsonb NOT NULL,
    candidate_count   integer NOT NULL,
    clip_count        integer NOT NULL,
    topic_boundaries  jsonb NOT NULL DEFAULT '[]'::jsonb,
    audio_used        boolean NOT NULL,
    ranked_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, ranker_version)
);

-- Scored, explained candidates (the kept, non-overlapping ones), best first per ranking.
CREATE TABLE IF NOT EXISTS candidate_clips (
    clip_id         text PRIMARY KEY,
    video_id        text NOT NULL,
    tenant_id       text NOT NULL,
    ranker_version  text NOT NULL,
    position        integer NOT NULL,
    start_s         double precision NOT NULL,
    end_s           double precision NOT NULL,
    score           double precision NOT NULL,
    features        jsonb NOT NULL DEFAULT '{}'::jsonb,
    reasons         jsonb NOT NULL DEFAULT '[]'::jsonb,
    title           text NOT NULL DEFAULT '',
    hook            text NOT NULL DEFAULT '',
    first_sentence  integer NOT NULL,
    last_sentence   integer NOT NULL,
    topic           integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS candidate_clips_by_ranking ON candidate_clips (video_id, ranker_version, position);

-- deleted_videos (tombstones) comes from clipforge_common's migrations.
