-- Whether a template's evaluate() scores the share of validation examples it got right (accuracy),
-- as its task's score is by default (BaseModel.score_counts_examples, read when the template is
-- checked at upload). A job of a template that says no (F1, AUC, a loss...) gets no tie tolerance
-- of one example (singa.ranking). Templates recorded before the column existed: true, as before.
ALTER TABLE models ADD COLUMN score_counts_examples boolean NOT NULL DEFAULT true;
