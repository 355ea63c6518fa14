-- Overall attended headcount of all partners per year and programme (an aggregate, no nation in it).
SELECT year, programme, CAST(sum(participants) AS BIGINT) AS partner_participants
FROM metrics_participation
WHERE is_partner(framework)
GROUP BY year, programme
ORDER BY year, programme;
