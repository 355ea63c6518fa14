-- One row per quarantined row of the deliveries that currently count. A new warehouse starts with
-- an empty table; the rows of the deliveries being added (lake_quarantine: their lake files) arrive
-- as the lake holds them, each delivery's in delivered order, unsorted (sorting 5M quarantined rows
-- under the build's memory cap took longer than the rest of the build): order in the query.
CREATE TABLE IF NOT EXISTS quarantine AS
SELECT batch_id, source, source_file, source_row, reasons, offending_values, record, ingested_at
FROM lake_quarantine
LIMIT 0;

INSERT INTO quarantine
WITH
stored_deliveries AS (
    SELECT batch_id FROM deliveries WHERE status = 'stored'
)
SELECT q.batch_id, q.source, q.source_file, q.source_row, q.reasons, q.offending_values, q.record, q.ingested_at
FROM lake_quarantine AS q
SEMI JOIN stored_deliveries USING (batch_id);
