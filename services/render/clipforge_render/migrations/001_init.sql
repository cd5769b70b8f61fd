-- clipforge_render: the service's own tables (common ones come from clipforge_common).

CREATE TABLE IF NOT EXISTS renders (
    render_id     text PRIMARY KEY,
    clip_id       text NOT NULL,
    video_id      text NOT NULL,
    tenant_id     text NOT NULL,
    preset        text NOT NULL,
    status        text NOT NULL DEFAULT 'pending',
    outputs       jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (clip_id, preset)
);
