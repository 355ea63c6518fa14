-- metrics_gender for one nation.
SELECT * FROM metrics_gender WHERE nation = $partner ORDER BY year, programme;
