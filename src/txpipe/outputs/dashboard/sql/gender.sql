-- Attended headcount by sex per year, nation, framework, programme.
SELECT year, nation, framework, programme, women, men, other, unknown
FROM metrics_gender
WHERE $partner IS NULL OR nation = $partner
ORDER BY year, nation, programme;
