-- source_record_ids that occur with more than one content in the delivery: every copy is quarantined.
CREATE TABLE conflicting AS
WITH repeated AS (
    SELECT census_id
    FROM delivered
    WHERE census_id IS NOT NULL
    GROUP BY census_id
    HAVING count(*) > 1
)
SELECT census_id AS id
FROM delivered
SEMI JOIN repeated USING (census_id)
GROUP BY census_id
HAVING count(DISTINCT (hash_a, hash_b)) > 1;
