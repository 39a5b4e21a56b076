-- When a stop was asked for: the reconciler ends a job whose workers did not stop within the grace period.
ALTER TABLE train_jobs ADD COLUMN stop_requested_at timestamptz;
