-- Accounts: logged-out tokens, login throttling, and replays of retried creating requests.

-- A token logged out before it expired, named by its "jti" claim; kept until it would have
-- expired anyway (a logout everywhere bumps users.token_epoch instead).
CREATE TABLE revoked_tokens (
    token_id        uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

-- Failed logins in a row, per account (the lower-cased email, known or not) and per client
-- address. Every admin process reads and writes the same rows.
CREATE TABLE login_failures (
    scope           text NOT NULL,                  -- 'account' or 'address'
    subject         text NOT NULL,
    failures        integer NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    locked_until    timestamptz,                    -- no attempt is checked before this time
    PRIMARY KEY (scope, subject)
);
CREATE INDEX login_failures_age ON login_failures (last_failed_at);

-- The answer to a creating request sent with an Idempotency-Key, replayed when the same user sends
-- the same key again. status is NULL while the first request is still being processed.
CREATE TABLE idempotent_requests (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key             text NOT NULL,
    fingerprint     text NOT NULL,                  -- HMAC of the method, path, query and body
    status          integer,
    body            bytea,
    content_type    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotent_requests_expiry ON idempotent_requests (expires_at);
