-- One row per quarantined row of the deliveries that count, and of those superseded since (history):
-- `current` says which rows still stand (mark_current_quarantine.sql). A new warehouse starts with
-- an empty table; the rows of the deliveries being added (lake_quarantine: their lake files) arrive
-- as the lake holds them, each delivery's in delivered order, unsorted (sorting 5M quarantined rows
-- under the build's memory cap took longer than the rest of the build): order in the query.
CREATE TABLE IF NOT EXISTS quarantine AS
SELECT batch_id, source, source_file, source_row, reasons, offending_values, record, ingested_at, TRUE AS current
FROM lake_quarantine
LIMIT 0;

INSERT INTO quarantine
WITH
judged_deliveries AS (
    SELECT batch_id FROM deliveries WHERE status IN ('stored', 'superseded')
)
SELECT
    q.batch_id, q.source, q.source_file, q.source_row, q.reasons, q.offending_values, q.record, q.ingested_at,
    TRUE AS current
FROM lake_quarantine AS q
SEMI JOIN judged_deliveries USING (batch_id);
