-- What the warehouse was built from besides the lake (reference data, SQL, txpipe's version), so
-- that a later build can tell whether it may start from a copy of this file.
CREATE SCHEMA IF NOT EXISTS txpipe_build;
CREATE OR REPLACE TABLE txpipe_build.inputs (fingerprint VARCHAR NOT NULL);
COMMENT ON TABLE txpipe_build.inputs IS 'Internal: fingerprint of the reference data, SQL and txpipe version this file was built with (a build extends a copy of the file only when it matches)';
COMMENT ON COLUMN txpipe_build.inputs.fingerprint IS 'sha256 of txpipe''s version, the reference CSV files and the warehouse SQL files';
INSERT INTO txpipe_build.inputs VALUES ($fingerprint);
