-- Per delivery, the quarantined rows that still stand (quarantine.current) by rule, for the validation
-- report; a delivery with none has no row.
SELECT batch_id, reason, count(*) AS rows_quarantined
FROM (SELECT batch_id, unnest(reasons) AS reason FROM quarantine WHERE current)
GROUP BY batch_id, reason
UNION ALL
SELECT batch_id, NULL AS reason, rows_quarantined_current FROM deliveries;
