-- The metadata store of SingaAuto. Rows are "records"; "model" always means the user's ML model.

CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text NOT NULL UNIQUE,           -- stored lower-cased
    password_hash   text NOT NULL,
    user_type       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    banned_at       timestamptz,
    -- Bumped to revoke every token issued before (ban, password change).
    token_epoch     integer NOT NULL DEFAULT 0
);

CREATE TABLE datasets (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL REFERENCES users (id),
    name            text NOT NULL,
    task            text NOT NULL,
    store_path      text NOT NULL,                  -- relative to storage_dir; never from user input
    file_name       text NOT NULL,                  -- the uploaded name, for display only
    size_bytes      bigint NOT NULL,
    stat            jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX datasets_owner ON datasets (owner_id, task);

CREATE TABLE models (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL REFERENCES users (id),
    name            text NOT NULL,
    task            text NOT NULL,
    model_class     text NOT NULL,
    file_kind       text NOT NULL,                  -- 'py' or 'zip'
    file_name       text NOT NULL,                  -- module file (inside the zip for 'zip')
    file_bytes      bytea NOT NULL,
    store_path      text NOT NULL,                  -- copy on shared storage that workers import
    dependencies    jsonb NOT NULL DEFAULT '[]',    -- validated requirement strings
    docker_image    text,
    access_right    text NOT NULL DEFAULT 'PRIVATE',
    description     text NOT NULL DEFAULT '',
    knob_config     jsonb NOT NULL,                 -- the knob space, as the knob codec writes it
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner_id, name)
);
CREATE INDEX models_task ON models (task, access_right);

CREATE TABLE train_jobs (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL REFERENCES users (id),
    app             text NOT NULL,
    app_version     integer NOT NULL,
    task            text NOT NULL,
    budget          jsonb NOT NULL,
    train_dataset_id uuid REFERENCES datasets (id) ON DELETE SET NULL,
    val_dataset_id  uuid REFERENCES datasets (id) ON DELETE SET NULL,
    train_args      jsonb NOT NULL DEFAULT '{}',
    advisor_config  jsonb NOT NULL DEFAULT '{}',    -- advisor, pruner, max_trial_retries, seed
    status          text NOT NULL,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    deadline_at     timestamptz,                    -- the time budget, fixed when the job starts
    stopped_at      timestamptz,
    UNIQUE (owner_id, app, app_version)
);
CREATE INDEX train_jobs_status ON train_jobs (status);

CREATE TABLE services (
    id              uuid PRIMARY KEY,
    service_type    text NOT NULL,
    status          text NOT NULL,
    job_id          uuid NOT NULL,                  -- train or inference job
    sub_job_id      uuid,
    trial_id        uuid,
    container_manager text NOT NULL,
    container_service_id text,
    container_service_name text,
    replicas        integer NOT NULL DEFAULT 1,
    gpus            integer NOT NULL DEFAULT 0,
    hostname        text,
    port            integer,
    ext_hostname    text,
    ext_port        integer,
    info            jsonb NOT NULL DEFAULT '{}',
    restarts        integer NOT NULL DEFAULT 0,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    stopped_at      timestamptz
);
CREATE INDEX services_job ON services (job_id);
CREATE INDEX services_live ON services (status) WHERE status IN ('STARTED', 'DEPLOYING', 'RUNNING');
CREATE UNIQUE INDEX services_ext_port ON services (ext_hostname, ext_port)
    WHERE ext_port IS NOT NULL AND status IN ('STARTED', 'DEPLOYING', 'RUNNING');

CREATE TABLE sub_train_jobs (
    id              uuid PRIMARY KEY,
    train_job_id    uuid NOT NULL REFERENCES train_jobs (id) ON DELETE CASCADE,
    model_id        uuid NOT NULL REFERENCES models (id),
    status          text NOT NULL,
    advisor_service_id uuid REFERENCES services (id),
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    stopped_at      timestamptz
);
CREATE INDEX sub_train_jobs_job ON sub_train_jobs (train_job_id);
CREATE INDEX sub_train_jobs_model ON sub_train_jobs (model_id, status);

CREATE TABLE trials (
    id              uuid PRIMARY KEY,
    sub_train_job_id uuid NOT NULL REFERENCES sub_train_jobs (id) ON DELETE CASCADE,
    no              integer NOT NULL,
    model_id        uuid NOT NULL REFERENCES models (id),
    status          text NOT NULL,
    knobs           jsonb NOT NULL,
    proposal        jsonb NOT NULL DEFAULT '{}',    -- phase, params_type, seed, ...
    score           double precision,
    intermediate    jsonb NOT NULL DEFAULT '[]',    -- [[step, score], ...] as reported
    worker_id       text,
    attempt         integer NOT NULL DEFAULT 0,
    retry_of        uuid REFERENCES trials (id),
    params_id       text,                           -- key in the parameter store
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    updated_at      timestamptz,
    stopped_at      timestamptz,
    UNIQUE (sub_train_job_id, no)
);
CREATE INDEX trials_sub_job_status ON trials (sub_train_job_id, status);
CREATE INDEX trials_sub_job_score ON trials (sub_train_job_id, score DESC NULLS LAST);

CREATE TABLE trial_logs (
    id              bigserial PRIMARY KEY,
    trial_id        uuid NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    time            timestamptz NOT NULL,
    level           text NOT NULL DEFAULT 'INFO',
    line            jsonb NOT NULL                  -- {type: MESSAGE|METRICS|PLOT, ...}
);
CREATE INDEX trial_logs_trial ON trial_logs (trial_id, id);

CREATE TABLE inference_jobs (
    id              uuid PRIMARY KEY,
    owner_id        uuid NOT NULL REFERENCES users (id),
    train_job_id    uuid NOT NULL REFERENCES train_jobs (id),
    status          text NOT NULL,
    budget          jsonb NOT NULL DEFAULT '{}',
    config          jsonb NOT NULL DEFAULT '{}',    -- models to deploy, replicas, ensemble, batching
    is_public       boolean NOT NULL DEFAULT false,
    description     text NOT NULL DEFAULT '',
    predictor_service_id uuid REFERENCES services (id),
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    stopped_at      timestamptz
);
CREATE UNIQUE INDEX inference_jobs_one_live ON inference_jobs (train_job_id)
    WHERE status IN ('STARTED', 'RUNNING');

CREATE TABLE prediction_keys (
    id              uuid PRIMARY KEY,
    inference_job_id uuid NOT NULL REFERENCES inference_jobs (id) ON DELETE CASCADE,
    name            text NOT NULL DEFAULT '',
    key_hash        text NOT NULL UNIQUE,           -- sha256 of the key; the key is shown once
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

CREATE TABLE events (
    id              bigserial PRIMARY KEY,
    time            timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL,
    job_id          uuid,
    subject_id      uuid,
    data            jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_job ON events (job_id, id);
