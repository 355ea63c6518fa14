-- One row per current record: superseded deliveries drop out, the latest delivery of a record
-- wins, and the framework is the one the nation held at start_date.
CREATE TABLE participation AS
WITH
stored_deliveries AS (
    SELECT batch_id, received_at FROM deliveries WHERE status = 'stored'
),
lake AS (
    SELECT * FROM lake_participation
),
versions AS (
    SELECT
        lake.*,
        row_number() OVER (
            PARTITION BY lake.source, lake.source_record_id
            ORDER BY d.received_at DESC, lake.source_file DESC, lake.source_row DESC
        ) AS version_rank
    FROM lake
    JOIN stored_deliveries AS d USING (batch_id)
),
current_records AS (
    SELECT * FROM versions WHERE version_rank = 1
),
with_framework AS (
    SELECT r.*, n.framework
    FROM current_records AS r
    LEFT JOIN nations AS n
        ON n.code = r.nation
        AND r.start_date >= coalesce(n.valid_from, DATE '0001-01-01')
        AND r.start_date <= coalesce(n.valid_to, DATE '9999-12-31')
),
final AS (
    SELECT
        md5(source || chr(31) || source_record_id) AS record_key, source, source_record_id, programme, activity_code, activity_title, iteration_id,
        provider, start_date, end_date, delivery_mode, nation, framework, participant_pid, headcount,
        sex, rank, role, status, score, batch_id, source_file, source_row, ingested_at
    FROM with_framework
)
SELECT * FROM final
ORDER BY start_date, source, source_record_id;
