-- The size in bytes of a completed trial's saved parameters (as encoded in the parameter store),
-- reported by its train worker: the rule that picks the best trials prefers the smaller of tied
-- trials (singa.meta_store.trials.RANK_RULE). NULL: no parameters saved, or a trial recorded
-- before the column existed.
ALTER TABLE trials ADD COLUMN params_bytes bigint;
