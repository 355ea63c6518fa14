-- The versions that are not current once the incoming rows arrive: superseded deliveries have
-- dropped out already, and the latest delivery of a record wins: the later run (received_at), then
-- within a run the file modified last (modified_at), then the file whose name sorts last, then the
-- later row. A record can only be replaced by another stored delivery of the same source,
-- and within one delivery source_record_id is unique (ingest collapses or quarantines repeats),
-- so versions are ranked only for the sources with more than one stored delivery, on the keys
-- alone: the incoming rows against each other and against the rows the table holds for the same
-- records (those are the current versions among the deliveries held before).
CREATE OR REPLACE TEMP TABLE replaced_versions AS
WITH
stored_deliveries AS (
    SELECT batch_id, received_at, modified_at, source FROM deliveries WHERE status = 'stored'
),
sources_with_versions AS (
    SELECT source FROM stored_deliveries GROUP BY source HAVING count(*) > 1
),
arriving AS (
    SELECT source, source_record_id, batch_id, source_file, source_row
    FROM incoming_participation
    WHERE source IN (SELECT source FROM sources_with_versions)
),
held AS (
    SELECT p.source, p.source_record_id, p.batch_id, p.source_file, p.source_row
    FROM participation AS p
    SEMI JOIN arriving USING (source, source_record_id)
),
versions AS (
    SELECT
        v.batch_id,
        v.source_row,
        row_number() OVER (
            PARTITION BY v.source, v.source_record_id
            ORDER BY d.received_at DESC, d.modified_at DESC, v.source_file DESC, v.source_row DESC
        ) AS version_rank
    FROM (SELECT * FROM arriving UNION ALL SELECT * FROM held) AS v
    JOIN stored_deliveries AS d USING (batch_id)
)
SELECT batch_id, source_row FROM versions WHERE version_rank > 1;
