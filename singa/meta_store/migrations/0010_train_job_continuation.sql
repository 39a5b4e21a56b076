-- Resume, warm start, enqueued trials and live budgets (issue 17).
-- resumed_at: when the job's current run began (NULL: it never was resumed); its TIME_HOURS counts
-- from then. run_start_no: the number of the first trial of the sub-job's current run; the trials
-- numbered below it belong to earlier runs, and the trial budget of this run does not count them.
ALTER TABLE train_jobs ADD COLUMN resumed_at timestamptz;
ALTER TABLE sub_train_jobs ADD COLUMN run_start_no integer NOT NULL DEFAULT 1;

-- Trials a user asked for with given knobs; the sub-job's advisor runs them, oldest first, before
-- its own proposals. trial_id: the trial it became; error: why the advisor dropped it instead (its
-- knob set was proposed meanwhile); both NULL while it waits.
CREATE TABLE enqueued_trials (
    id              uuid PRIMARY KEY,
    sub_train_job_id uuid NOT NULL REFERENCES sub_train_jobs (id) ON DELETE CASCADE,
    knobs           jsonb NOT NULL,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    trial_id        uuid REFERENCES trials (id) ON DELETE SET NULL,
    error           text
);
CREATE INDEX enqueued_trials_waiting ON enqueued_trials (sub_train_job_id, created_at) WHERE trial_id IS NULL AND error IS NULL;
