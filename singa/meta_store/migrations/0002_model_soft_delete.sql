-- Model templates referenced only by finished jobs are soft-deleted, so that their old trials stay
-- loadable; a soft-deleted template's name may be used again by its owner.
ALTER TABLE models ADD COLUMN deleted_at timestamptz;
ALTER TABLE models DROP CONSTRAINT models_owner_id_name_key;
CREATE UNIQUE INDEX models_owner_name_live ON models (owner_id, name) WHERE deleted_at IS NULL;
