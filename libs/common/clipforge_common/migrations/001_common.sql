-- Tables every service has: the inbox (dedupe), the outbox (no dual writes) and long-running jobs.

CREATE TABLE IF NOT EXISTS processed_events (
    consumer_group text NOT NULL,
    event_id       text NOT NULL,
    event_type     text NOT NULL,
    processed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, event_id)
);

CREATE TABLE IF NOT EXISTS outbox (
    id          bigserial PRIMARY KEY,
    event_id    text NOT NULL UNIQUE,
    topic       text NOT NULL,
    key         text NOT NULL,
    headers     jsonb NOT NULL DEFAULT '{}'::jsonb,
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE IF NOT EXISTS jobs (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL,
    dedupe_key    text NOT NULL,
    video_id      text,
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 3,
    available_at  timestamptz NOT NULL DEFAULT now(),
    lease_until   timestamptz,
    leased_by     text,
    last_error    text,
    result        jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    UNIQUE (kind, dedupe_key)
);
CREATE INDEX IF NOT EXISTS jobs_claimable ON jobs (available_at) WHERE status IN ('pending', 'running');
