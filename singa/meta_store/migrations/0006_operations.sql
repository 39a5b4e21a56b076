-- Operating the platform: events as an audit log, per-user webhooks and their deliveries, quotas.

-- Whose event it is (the owner of the job, template or dataset, or the user account itself) and
-- who caused it (NULL: the platform itself, such as an advisor or the reconciler).
ALTER TABLE events ADD COLUMN owner_id uuid, ADD COLUMN actor_id uuid;
CREATE INDEX events_owner ON events (owner_id, id);
CREATE INDEX events_actor ON events (actor_id, id);
CREATE INDEX events_kind ON events (kind, id);
CREATE INDEX events_time ON events (time);

-- A user's webhook: the events of its owner (of the listed kinds; none listed: every kind) are
-- POSTed to url. The signing secret is derived from the token secret and secret_salt, never stored.
CREATE TABLE webhooks (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url             text NOT NULL,
    kinds           text[] NOT NULL DEFAULT '{}',
    description     text NOT NULL DEFAULT '',
    secret_salt     text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_owner ON webhooks (owner_id);

-- One event to deliver to one webhook (written in the transaction that records the event).
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    webhook_id      uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status          text NOT NULL,                  -- PENDING, DELIVERED, FAILED
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,                    -- an admin process is sending it until then
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);

-- Every attempt at a delivery: the delivery log.
CREATE TABLE webhook_attempts (
    id              bigserial PRIMARY KEY,
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    time            timestamptz NOT NULL DEFAULT now(),
    status_code     integer,                        -- the receiver's answer, if there was one
    error           text,                           -- why the attempt failed, if it did
    duration_ms     double precision NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- Limits an admin set for one user; NULL: the platform's default (SINGA_QUOTA_*), -1: no limit.
CREATE TABLE user_quotas (
    user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    running_jobs    integer,
    workers         integer,
    gpus            integer,
    stored_bytes    bigint,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      uuid REFERENCES users (id) ON DELETE SET NULL
);
