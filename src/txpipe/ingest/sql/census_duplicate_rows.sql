-- Rows identical to an earlier row of the same delivery (same id and same content): they collapse.
-- Only contents that occur more than once are joined back (a hash aggregate, no sort of every row).
CREATE TABLE duplicates AS
WITH repeated AS (
    SELECT delivery, id, hash_a, hash_b, min(source_row) AS first_row
    FROM census_rows
    GROUP BY delivery, id, hash_a, hash_b
    HAVING count(*) > 1
)
SELECT census_rows.delivery, census_rows.source_row
FROM census_rows
JOIN repeated
    ON census_rows.delivery = repeated.delivery
    AND census_rows.id IS NOT DISTINCT FROM repeated.id
    AND census_rows.hash_a = repeated.hash_a
    AND census_rows.hash_b = repeated.hash_b
WHERE census_rows.source_row > repeated.first_row;
