-- source_record_ids that occur with more than one content in the delivery: every copy is quarantined.
-- Contents are compared only for the ids that occur more than once.
WITH repeated AS (
    SELECT id
    FROM census_rows
    WHERE id IS NOT NULL
    GROUP BY id
    HAVING count(*) > 1
)
SELECT id
FROM census_rows
SEMI JOIN repeated USING (id)
GROUP BY id
HAVING count(DISTINCT (hash_a, hash_b)) > 1
ORDER BY id;
