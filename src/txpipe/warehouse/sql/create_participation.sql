-- One row per current record: superseded deliveries drop out, the latest delivery of a record
-- wins, and the framework is the one the nation held at start_date.
-- A record can only be replaced by another stored delivery of the same source, and within one
-- delivery source_record_id is unique (ingest collapses or quarantines repeats), so versions are
-- ranked only for the sources with more than one stored delivery, on the keys alone.
-- Row order is not kept (writing unordered lets DuckDB write in parallel): order in the query.
SET preserve_insertion_order = false;

CREATE TABLE participation AS
WITH
stored_deliveries AS (
    SELECT batch_id, received_at, source FROM deliveries WHERE status = 'stored'
),
sources_with_versions AS (
    SELECT source FROM stored_deliveries GROUP BY source HAVING count(*) > 1
),
versions AS (
    SELECT
        lake.source,
        lake.source_record_id,
        row_number() OVER (
            PARTITION BY lake.source, lake.source_record_id
            ORDER BY d.received_at DESC, lake.source_file DESC, lake.source_row DESC
        ) AS version_rank,
        lake.batch_id,
        lake.source_row
    FROM lake_participation AS lake
    JOIN stored_deliveries AS d USING (batch_id)
    WHERE lake.source IN (SELECT source FROM sources_with_versions)
),
replaced AS (
    SELECT batch_id, source_row FROM versions WHERE version_rank > 1
),
current_records AS (
    SELECT lake.*
    FROM lake_participation AS lake
    SEMI JOIN stored_deliveries USING (batch_id)
    ANTI JOIN replaced USING (batch_id, source_row)
),
with_framework AS (
    SELECT r.*, n.framework
    FROM current_records AS r
    LEFT JOIN nations AS n
        ON n.code = r.nation
        AND r.start_date >= coalesce(n.valid_from, DATE '0001-01-01')
        AND r.start_date <= coalesce(n.valid_to, DATE '9999-12-31')
)
SELECT
    md5(source || chr(31) || source_record_id) AS record_key, source, source_record_id, programme, activity_code, activity_title, iteration_id,
    provider, start_date, end_date, delivery_mode, nation, framework, participant_pid, headcount,
    sex, rank, role, status, score, batch_id, source_file, source_row, ingested_at, warnings
FROM with_framework;

RESET preserve_insertion_order;
