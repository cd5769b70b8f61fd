-- clipforge_transcribe: the service's tables as the service uses them.
--
-- 001_init.sql created a placeholder `transcripts` table that the skeleton service never wrote to (its
-- handler only logged). Databases that applied it are upgraded here by replacing that empty
-- placeholder; a fresh database goes through the same path, so both end with one schema.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'transcripts' AND column_name = 'status'
    ) THEN
        DROP TABLE IF EXISTS transcripts;
    END IF;
END $$;

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

-- deleted_videos (tombstones) comes from clipforge_common's migrations.
