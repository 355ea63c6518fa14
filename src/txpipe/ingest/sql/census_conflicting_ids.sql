-- source_record_ids that occur with more than one content in a delivery: every copy is quarantined
-- (the rule conflicting_duplicate, judged per delivery). Contents are compared only for the ids that
-- occur more than once.
CREATE TABLE conflicting_ids AS
WITH repeated AS (
    SELECT delivery, id
    FROM census_rows
    WHERE id IS NOT NULL
    GROUP BY delivery, id
    HAVING count(*) > 1
)
SELECT delivery, id AS value
FROM census_rows
SEMI JOIN repeated USING (delivery, id)
GROUP BY delivery, id
HAVING count(DISTINCT (hash_a, hash_b)) > 1;
