-- clipforge_ingest: the service's tables as the service uses them.
--
-- 001_init.sql created a placeholder `media` table that the skeleton service never wrote to (its
-- handler only logged). Databases that applied it are upgraded here by replacing that empty
-- placeholder; a fresh database goes through the same path, so both end with one schema.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'media' AND column_name = 'source_kind'
    ) THEN
        DROP TABLE IF EXISTS media;
    END IF;
END $$;

-- One row per video the service was asked to ingest: where the source is, what it turned out to be.
CREATE TABLE IF NOT EXISTS media (
    video_id     text PRIMARY KEY,
    tenant_id    text NOT NULL,
    project_id   text NOT NULL,
    source_kind  text NOT NULL CHECK (source_kind IN ('upload', 'url')),
    source_ref   text NOT NULL,              -- upload object key or the URL asked for
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ingested', 'failed')),
    sha256       text,
    source_key   text,
    audio_key    text,
    reused_from  text,                       -- video_id whose results this identical source reuses
    info         jsonb,                      -- the video.ingested payload
    reason_code  text,
    message      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- Duplicate detection: the original ingested video with the same bytes in a tenant's project.
CREATE INDEX IF NOT EXISTS media_by_hash ON media (tenant_id, project_id, sha256) WHERE status = 'ingested';

-- deleted_videos (tombstones) comes from clipforge_common's migrations.
