-- metrics_outcomes for one nation.
SELECT * FROM metrics_outcomes WHERE nation = $partner ORDER BY year, programme;
