-- The overall totals a partner may see: all partners' attended headcount per year and programme.
SELECT year, programme, CAST(sum(participants) AS BIGINT) AS all_partner_participants,
       count(DISTINCT nation) AS partner_nations
FROM metrics_participation
WHERE is_partner(framework)
GROUP BY year, programme
ORDER BY year, programme;
