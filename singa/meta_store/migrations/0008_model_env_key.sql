-- The environment of a template's declared dependencies (singa.envs): the key of the directory
-- <storage>/envs/<key>/ that its check, train and inference workers put on the model code's path.
-- NULL: the template declares no dependency the platform does not already satisfy.
ALTER TABLE models ADD COLUMN env_key text;
