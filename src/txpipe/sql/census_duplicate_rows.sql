-- Rows identical to an earlier row of the same delivery (same id and same content): they collapse.
SELECT source_row
FROM (
    SELECT
        source_row,
        row_number() OVER (PARTITION BY id, hash_a, hash_b ORDER BY source_row) AS copy_number
    FROM census_rows
)
WHERE copy_number > 1
ORDER BY source_row;
