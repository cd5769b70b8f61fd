-- clipforge_ingest: the service's own tables (common ones come from clipforge_common).

CREATE TABLE IF NOT EXISTS media (
    video_id    text PRIMARY KEY,
    tenant_id   text NOT NULL,
    project_id  text,
    source_key  text,
    sha256      text,
    status      text NOT NULL DEFAULT 'pending',
    info        jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS media_by_hash ON media (tenant_id, project_id, sha256);
