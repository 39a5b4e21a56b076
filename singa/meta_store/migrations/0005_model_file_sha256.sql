-- The SHA-256 of each template file, recorded at upload: workers refuse a stored copy that differs.
ALTER TABLE models ADD COLUMN file_sha256 text;
UPDATE models SET file_sha256 = encode(sha256(file_bytes), 'hex');
ALTER TABLE models ALTER COLUMN file_sha256 SET NOT NULL;
