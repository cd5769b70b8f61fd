-- Rebuilt projections (clipforge replay rebuild) and the one pointer every gateway replica follows.
-- Version 0 is the original read model: the tables of the public schema, the gateway's configured
-- consumer group and Redis namespace. Version N >= 1 lives in schema projection_v<N> of this same
-- database (so API commands still write the read model and the outbox in one transaction), with
-- consumer group <base group>.v<N> and Redis namespace <base namespace>v<N>:.

CREATE TABLE IF NOT EXISTS projections (
    version       integer PRIMARY KEY CHECK (version >= 1),
    schema_name   text NOT NULL UNIQUE,
    group_id      text NOT NULL,
    namespace     text NOT NULL,
    tenants       jsonb NOT NULL DEFAULT '[]'::jsonb,  -- empty: every tenant
    status        text NOT NULL CHECK (status IN ('building', 'ready', 'dropped')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    caught_up_at  timestamptz,
    dropped_at    timestamptz
);

-- At most one row; no row means version 0. Replicas poll it and switch their reads when it changes.
CREATE TABLE IF NOT EXISTS active_projection (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version           integer NOT NULL CHECK (version >= 0),
    schema_name       text NOT NULL,
    group_id          text NOT NULL,
    namespace         text NOT NULL,
    previous_version  integer,
    switched_at       timestamptz NOT NULL DEFAULT now()
);
