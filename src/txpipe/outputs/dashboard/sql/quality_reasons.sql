-- Quarantine reasons per source: the rows that still stand (quarantine.current).
SELECT source, reason, count(*) AS rows_quarantined
FROM (SELECT source, unnest(reasons) AS reason FROM quarantine WHERE current)
GROUP BY source, reason
ORDER BY rows_quarantined DESC, source, reason;
