-- Near-ties (issue 17): how far below the best validation score a trial still ties with it, fixed
-- when the job is created from its validation set's resolution: one example's share of a score
-- that counts examples right (1 / validation rows, images or tokens; singa.tasks), plus 1e-9 for
-- floating-point noise; else 1e-9 (a score with no such step, and every job recorded before the
-- column existed). singa.ranking has the rule.
ALTER TABLE train_jobs ADD COLUMN tie_tolerance double precision NOT NULL DEFAULT 1e-9;
