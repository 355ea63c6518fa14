-- Rows identical to an earlier row of the delivery (same id and same values): they collapse.
-- Only contents that occur more than once are joined back (a hash aggregate, no sort of every row).
CREATE TABLE duplicates AS
WITH repeated AS (
    SELECT census_id, hash_a, hash_b, min(source_row) AS first_row
    FROM delivered
    GROUP BY census_id, hash_a, hash_b
    HAVING count(*) > 1
)
SELECT delivered.source_row
FROM delivered
JOIN repeated
    ON delivered.census_id IS NOT DISTINCT FROM repeated.census_id
    AND delivered.hash_a = repeated.hash_a
    AND delivered.hash_b = repeated.hash_b
WHERE delivered.source_row > repeated.first_row;
