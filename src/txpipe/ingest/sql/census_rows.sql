-- The spool seen as the census sees a delivery (ingest/sql/census_*.sql): position, trimmed id, two hashes.
CREATE VIEW census_rows AS
SELECT source_row, census_id AS id, hash_a, hash_b
FROM delivered;
