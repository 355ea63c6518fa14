-- One row per delivered file, from the ledger (registered by the build as ledger_records).
CREATE OR REPLACE TABLE deliveries AS
SELECT
    batch_id,
    source,
    source_file,
    sha256,
    CAST(received_at AS TIMESTAMPTZ) AS received_at,
    status,
    CAST(rows_read AS BIGINT) AS rows_read,
    CAST(rows_stored AS BIGINT) AS rows_stored,
    CAST(rows_quarantined AS BIGINT) AS rows_quarantined,
    CAST(rows_duplicate AS BIGINT) AS rows_duplicate,
    reason,
    ignored_columns,
    superseded_by,
    kept,
    make_timestamp(CAST(mtime_ns // 1000 AS BIGINT)) AT TIME ZONE 'UTC' AS modified_at,
    statements_read,
    statements_used,
    statements_ignored,
    statements_quarantined
FROM ledger_records
ORDER BY received_at, source, source_file;
