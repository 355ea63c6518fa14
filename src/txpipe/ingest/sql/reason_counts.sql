-- How many quarantined rows carry each reason.
SELECT reason, count(*)
FROM (SELECT unnest(reasons) AS reason FROM judged UNION ALL SELECT rule FROM issues)
GROUP BY reason;
