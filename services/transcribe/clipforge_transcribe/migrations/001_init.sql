-- clipforge_transcribe: the service's own tables (common ones come from clipforge_common).

-- The transcripts index: one row per video, the transcript itself lives in S3 (transcripts/<id>.json).
CREATE TABLE IF NOT EXISTS transcripts (
    video_id        text PRIMARY KEY,
    tenant_id       text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    audio_key       text,
    transcript_key  text,
    engine          text,
    engine_version  text,
    language        text,
    word_count      integer,
    sentence_count  integer,
    duration        double precision,
    copied_from     text,                    -- video_id whose transcript was copied (identical source)
    reason_code     text,
    message         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Videos deleted while (or before) their work ran: late events and jobs for them are dropped.
CREATE TABLE IF NOT EXISTS deleted_videos (
    video_id    text PRIMARY KEY,
    tenant_id   text NOT NULL,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
