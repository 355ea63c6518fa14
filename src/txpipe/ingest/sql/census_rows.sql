-- The spool seen as the census sees a batch: delivery, position, trimmed id, two hashes of the values.
CREATE VIEW census_rows AS
SELECT delivery, source_row, census_id AS id, hash_a, hash_b
FROM delivered;
