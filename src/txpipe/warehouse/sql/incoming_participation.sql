-- The rows of the deliveries being added (lake_participation: their lake files), as participation
-- rows: the framework is the one the nation held at start_date. Which of them become current is
-- decided by replaced_versions.sql.
CREATE OR REPLACE TEMP VIEW incoming_participation AS
WITH
stored_deliveries AS (
    SELECT batch_id FROM deliveries WHERE status = 'stored'
),
arriving AS (
    SELECT lake.*
    FROM lake_participation AS lake
    SEMI JOIN stored_deliveries USING (batch_id)
)
SELECT
    md5(r.source || chr(31) || r.source_record_id) AS record_key, r.source, r.source_record_id, r.programme,
    r.activity_code, r.activity_title, r.iteration_id, r.iteration_id_delivered, r.provider, r.start_date,
    r.end_date, r.delivery_mode, r.nation, n.framework, r.participant_pid, r.headcount, r.sex, r.rank, r.role,
    r.status, r.score, r.batch_id, r.source_file, r.source_row, r.ingested_at, r.warnings
FROM arriving AS r
LEFT JOIN nations AS n
    ON n.code = r.nation
    AND r.start_date >= coalesce(n.valid_from, DATE '0001-01-01')
    AND r.start_date <= coalesce(n.valid_to, DATE '9999-12-31');
