-- Outcome headcounts per year, nation, framework, programme.
SELECT year, nation, framework, programme, no_show, completed, passed, failed, attended_total
FROM metrics_outcomes
WHERE $partner IS NULL OR nation = $partner
ORDER BY year, nation, programme;
