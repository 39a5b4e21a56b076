-- Multi-objective tuning (issue 17): a completed trial's named metrics, {name: number}: what its
-- evaluate() returned when it named several, and predict_latency_ms, the median time its trained
-- model took to answer one query of the validation set, as its train worker measured it. NULL: a
-- trial that did not complete, or one recorded before the column existed.
ALTER TABLE trials ADD COLUMN metrics jsonb;
