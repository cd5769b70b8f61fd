-- Tombstones of deleted videos: every service forgets a video on video.deleted, and late events
-- or jobs for it are dropped. (Services that created this table themselves keep their copy.)
CREATE TABLE IF NOT EXISTS deleted_videos (
    video_id    text PRIMARY KEY,
    tenant_id   text,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);
