-- Deliveries per source and status, with rows and the date of the last delivery. A rejected
-- re-delivery that left the earlier delivery of its file counting says so. Quarantined rows are those
-- that still stand (deliveries.rows_quarantined_current).
SELECT
    source,
    CASE WHEN status = 'rejected' AND kept IS NOT NULL THEN 'rejected, earlier delivery kept' ELSE status END AS status,
    count(*) AS files,
    CAST(sum(rows_read) AS BIGINT) AS rows_read,
    CAST(sum(rows_quarantined_current) AS BIGINT) AS rows_quarantined,
    strftime(max(received_at), '%Y-%m-%d') AS last_delivery
FROM deliveries
GROUP BY ALL
ORDER BY source, status;
