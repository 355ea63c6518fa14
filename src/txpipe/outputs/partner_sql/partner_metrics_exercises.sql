-- One nation's own attended headcount per exercise iteration (metrics_exercises would mix in other partners).
SELECT
    year(start_date) AS year,
    activity_code,
    iteration_id,
    CAST(sum(headcount) AS BIGINT) AS headcount,
    CAST(coalesce(sum(headcount) FILTER (WHERE role = 'training_audience'), 0) AS BIGINT) AS training_audience_headcount,
    CAST(coalesce(sum(headcount) FILTER (WHERE role = 'observer'), 0) AS BIGINT) AS observer_headcount
FROM participation
WHERE programme = 'exercise' AND is_attended(status) AND nation = $partner
GROUP BY ALL
ORDER BY year, activity_code, iteration_id;
