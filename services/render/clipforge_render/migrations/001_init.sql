-- clipforge_render: the service's own tables (processed_events, outbox and jobs come from clipforge_common).

-- What render keeps from earlier events of a video (it never asks another service).
CREATE TABLE IF NOT EXISTS render_videos (
    video_id        text PRIMARY KEY,
    tenant_id       text NOT NULL,
    source_key      text,               -- video.ingested
    has_video       boolean,
    duration        double precision,
    transcript_key  text,               -- clips.ranked
    top_k           integer,            -- ingest.requested options (service default when null)
    preset          text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Clips of every clips.ranked (render.requested names them by id).
CREATE TABLE IF NOT EXISTS render_clips (
    clip_id         text PRIMARY KEY,
    video_id        text NOT NULL,
    tenant_id       text NOT NULL,
    ranker_version  text NOT NULL,
    position        integer NOT NULL,
    start_s         double precision NOT NULL,
    end_s           double precision NOT NULL,
    score           double precision NOT NULL,
    title           text NOT NULL DEFAULT '',
    hook            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS render_clips_by_video ON render_clips (video_id);

-- One row per distinct output: (clip, preset, caption style). Its objects live at
-- clips/<clip_id>/<preset>.*, so a newer style of the same clip and preset supersedes the old one.
CREATE TABLE IF NOT EXISTS renders (
    render_key   text PRIMARY KEY,          -- <clip_id>:<preset>:<style hash>
    clip_id      text NOT NULL,
    video_id     text NOT NULL,
    tenant_id    text NOT NULL,
    preset       text NOT NULL,
    style        jsonb NOT NULL,
    style_hash   text NOT NULL,
    status       text NOT NULL,             -- queued | done | failed | superseded
    generation   integer NOT NULL DEFAULT 1, -- bumped when a failed or superseded render is asked again
    outputs      jsonb,                     -- the clip.rendered facts (keys, duration, size, ...)
    reason_code  text,
    message      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS renders_by_clip ON renders (clip_id, preset);
CREATE INDEX IF NOT EXISTS renders_by_video ON renders (video_id);

-- Who asked for a render and is owed an answer (clip.rendered or clip.render_failed).
CREATE TABLE IF NOT EXISTS render_requests (
    request_id   text PRIMARY KEY,          -- render_id of render.requested, or auto:<render_key>
    render_key   text NOT NULL,
    render_id    text,                      -- echoed in the answer (null for automatic renders)
    video_id     text NOT NULL,
    cause        jsonb NOT NULL,            -- the envelope to answer (correlation, tenant, video)
    answered_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS render_requests_waiting ON render_requests (render_key) WHERE answered_at IS NULL;
CREATE INDEX IF NOT EXISTS render_requests_by_video ON render_requests (video_id);

-- deleted_videos (tombstones) comes from clipforge_common's migrations.
