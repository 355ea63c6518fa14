-- Which quarantined rows still stand (quarantine.current), made again by every build: a row is
-- current when its delivery counts (status stored: not superseded) and no later delivery of its
-- source holds its record (source_record_id), stored or quarantined again. Deliveries are ordered
-- as versions of a record are (replaced_versions.sql): received_at, then modified_at, then the file.
CREATE OR REPLACE TEMP TABLE delivery_order AS
SELECT
    batch_id,
    status,
    row_number() OVER (ORDER BY received_at, modified_at, source_file, batch_id) AS position
FROM deliveries;

CREATE OR REPLACE TEMP TABLE latest_versions AS
WITH
versions AS (
    SELECT p.source, p.source_record_id, o.position
    FROM participation AS p
    JOIN delivery_order AS o USING (batch_id)
    UNION ALL
    SELECT q.source, json_extract_string(q.record, '$.source_record_id') AS source_record_id, o.position
    FROM quarantine AS q
    JOIN delivery_order AS o USING (batch_id)
    WHERE o.status = 'stored'
)
SELECT source, source_record_id, max(position) AS position
FROM versions
WHERE source_record_id IS NOT NULL
GROUP BY source, source_record_id;

CREATE OR REPLACE TABLE quarantine AS
SELECT
    q.* EXCLUDE (current),
    o.status = 'stored' AND (l.position IS NULL OR l.position <= o.position) AS current
FROM quarantine AS q
JOIN delivery_order AS o USING (batch_id)
LEFT JOIN latest_versions AS l
    ON l.source = q.source AND l.source_record_id = json_extract_string(q.record, '$.source_record_id');

CREATE OR REPLACE TABLE deliveries AS
SELECT d.*, coalesce(c.rows, 0) AS rows_quarantined_current
FROM deliveries AS d
LEFT JOIN (SELECT batch_id, count(*) AS rows FROM quarantine WHERE current GROUP BY batch_id) AS c USING (batch_id)
ORDER BY d.received_at, d.source, d.source_file;

DROP TABLE delivery_order;
DROP TABLE latest_versions;
