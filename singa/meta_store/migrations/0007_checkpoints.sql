-- Checkpoint inference jobs: a template uploaded with trained parameters (its checkpoint, kept in
-- the parameter store) is deployed with no train job. Such a job names its template instead.
ALTER TABLE models ADD COLUMN checkpoint_params_id text,
                   ADD COLUMN checkpoint_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE inference_jobs ALTER COLUMN train_job_id DROP NOT NULL,
                           ADD COLUMN model_id uuid REFERENCES models (id),
                           ADD CONSTRAINT inference_jobs_one_source CHECK ((train_job_id IS NULL) <> (model_id IS NULL));
CREATE UNIQUE INDEX inference_jobs_one_live_checkpoint ON inference_jobs (model_id)
    WHERE status IN ('STARTED', 'RUNNING');
