-- clipforge_rank: the service's own tables (common ones come from clipforge_common).

CREATE TABLE IF NOT EXISTS candidate_clips (
    clip_id         text PRIMARY KEY,
    video_id        text NOT NULL,
    tenant_id       text NOT NULL,
    ranker_version  text NOT NULL,
    start_s         double precision NOT NULL,
    end_s           double precision NOT NULL,
    score           double precision NOT NULL,
    features        jsonb NOT NULL DEFAULT '{}'::jsonb,
    reasons         jsonb NOT NULL DEFAULT '[]'::jsonb,
    title           text,
    hook            text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS candidate_clips_by_video ON candidate_clips (video_id, ranker_version);
