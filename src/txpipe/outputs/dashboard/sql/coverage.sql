-- Active partners per year and framework (active does not depend on the programme).
SELECT year, framework, max(active_partners) AS active_partners
FROM metrics_partner_coverage
GROUP BY year, framework
ORDER BY year, framework;
