-- Deliveries per source and status, with rows and the date of the last delivery.
SELECT
    source,
    status,
    count(*) AS files,
    CAST(sum(rows_read) AS BIGINT) AS rows_read,
    CAST(sum(rows_quarantined) AS BIGINT) AS rows_quarantined,
    strftime(max(received_at), '%Y-%m-%d') AS last_delivery
FROM deliveries
GROUP BY source, status
ORDER BY source, status;
