-- One row per quarantined row of the deliveries that currently count.
CREATE TABLE quarantine AS
WITH
stored_deliveries AS (
    SELECT batch_id FROM deliveries WHERE status = 'stored'
),
final AS (
    SELECT q.batch_id, q.source, q.source_file, q.source_row, q.reasons, q.offending_values, q.record, q.ingested_at
    FROM lake_quarantine AS q
    JOIN stored_deliveries USING (batch_id)
)
SELECT * FROM final
ORDER BY source, source_file, source_row;
