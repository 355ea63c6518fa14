-- Quarantine reasons per source (deliveries that count).
SELECT source, reason, count(*) AS rows_quarantined
FROM (SELECT source, unnest(reasons) AS reason FROM quarantine)
GROUP BY source, reason
ORDER BY rows_quarantined DESC, source, reason;
