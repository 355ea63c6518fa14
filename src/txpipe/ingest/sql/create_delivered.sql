-- The delivered values of one delivery (canonical names, participant_ref already pseudonymised),
-- each row's position, and what the census needs: the trimmed id and two hashes of the values.
CREATE TABLE delivered (
    source_row BIGINT,
    {columns},
    census_id VARCHAR,
    hash_a UBIGINT,
    hash_b UBIGINT
);
