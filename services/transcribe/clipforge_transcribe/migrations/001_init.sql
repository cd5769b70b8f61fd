-- clipforge_transcribe: the service's own tables (common ones come from clipforge_common).

CREATE TABLE IF NOT EXISTS transcripts (
    video_id        text PRIMARY KEY,
    tenant_id       text NOT NULL,
    transcript_key  text,
    engine          text,
    engine_version  text,
    language        text,
    word_count      integer,
    duration        double precision,
    created_at      timestamptz NOT NULL DEFAULT now()
);
