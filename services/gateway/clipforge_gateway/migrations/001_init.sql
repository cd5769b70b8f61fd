-- clipforge_gateway: tenants, API keys, projects and the read models projected from events.
-- Read-model tables (videos, transcripts, clips, renders) have no foreign keys to tenants or
-- projects: they must accept events in any order during a replay.

CREATE TABLE IF NOT EXISTS tenants (
    tenant_id   text PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id                 text PRIMARY KEY,
    tenant_id              text NOT NULL REFERENCES tenants (tenant_id),
    key_hash               text NOT NULL,            -- sha256 of the whole key; the key itself is never stored
    rate_limit_per_minute  integer,                  -- null: the gateway default
    created_at             timestamptz NOT NULL DEFAULT now(),
    revoked_at             timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE IF NOT EXISTS projects (
    project_id   text PRIMARY KEY,                    -- UUIDv7: sorts by creation
    tenant_id    text NOT NULL REFERENCES tenants (tenant_id),
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projects_tenant ON projects (tenant_id, project_id DESC);

CREATE TABLE IF NOT EXISTS videos (
    video_id        text PRIMARY KEY,                 -- UUIDv7, the Kafka key of every event of the video
    tenant_id       text NOT NULL,
    project_id      text,
    source          jsonb,                            -- {kind, key | url, filename}
    options         jsonb,
    stages          jsonb NOT NULL DEFAULT '{}'::jsonb,  -- {stage: {status, percent, message, reason_code, at}}
    metadata        jsonb,                            -- from video.ingested
    failure         jsonb,                            -- latest unresolved failure {stage, reason_code, message, at}
    ranker_version  text,
    ranked_at       timestamptz,
    clip_count      integer NOT NULL DEFAULT 0,
    version         bigint NOT NULL DEFAULT 0,        -- +1 per applied event or write: orders cache writes and live events
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz                       -- tombstone: later events of the video are ignored
);
CREATE INDEX IF NOT EXISTS videos_project ON videos (tenant_id, project_id, video_id DESC);

CREATE TABLE IF NOT EXISTS transcripts (
    video_id        text PRIMARY KEY,
    tenant_id       text NOT NULL,
    transcript_key  text NOT NULL,
    engine          text NOT NULL,
    engine_version  text NOT NULL,
    language        text NOT NULL,
    word_count      integer NOT NULL,
    sentence_count  integer NOT NULL DEFAULT 0,
    duration        double precision NOT NULL,
    completed_at    timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS clips (
    video_id        text NOT NULL,
    clip_id         text NOT NULL,
    tenant_id       text NOT NULL,
    rank            integer NOT NULL,                 -- 1 = best
    start_s         double precision NOT NULL,
    end_s           double precision NOT NULL,
    score           double precision NOT NULL,
    features        jsonb NOT NULL DEFAULT '{}'::jsonb,
    reasons         jsonb NOT NULL DEFAULT '[]'::jsonb,
    title           text NOT NULL DEFAULT '',
    hook            text NOT NULL DEFAULT '',
    ranker_version  text NOT NULL,
    PRIMARY KEY (video_id, clip_id)
);

-- One row per clip and preset; render ids come from requests or producers and are only unique
-- within a video in practice, so they are not the key.
CREATE TABLE IF NOT EXISTS renders (
    render_id      text NOT NULL,
    video_id       text NOT NULL,
    tenant_id      text NOT NULL,
    clip_id        text NOT NULL,
    preset         text NOT NULL,
    caption_style  jsonb NOT NULL DEFAULT '{}'::jsonb,
    status         text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    video_key      text,
    thumbnail_key  text,
    srt_key        text,
    vtt_key        text,
    duration       double precision,
    width          integer,
    height         integer,
    size           bigint,
    failure        jsonb,
    event_at       timestamptz NOT NULL,              -- time of the event that last changed the row (last writer wins)
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, clip_id, preset)
);
CREATE INDEX IF NOT EXISTS renders_by_id ON renders (video_id, render_id);

CREATE TABLE IF NOT EXISTS usage (
    tenant_id  text NOT NULL,
    day        date NOT NULL,
    metric     text NOT NULL,                         -- upload_bytes, ingested_seconds, renders
    amount     double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, day, metric)
);
