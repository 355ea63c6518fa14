-- metrics_participation for one nation.
SELECT * FROM metrics_participation WHERE nation = $partner ORDER BY year, quarter, programme;
