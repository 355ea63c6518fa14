-- Partner participation per exercise iteration (attended rows of the exercise programme).
CREATE OR REPLACE TABLE metrics_exercises AS
WITH
exercise_rows AS (
    SELECT year(start_date) AS year, activity_code, iteration_id, nation, framework, role, headcount
    FROM participation
    WHERE programme = 'exercise' AND is_attended(status)
),
final AS (
    SELECT
        year,
        activity_code,
        iteration_id,
        count(DISTINCT nation) FILTER (WHERE is_partner(framework)) AS partner_nations,
        CAST(coalesce(sum(headcount) FILTER (WHERE is_partner(framework)), 0) AS BIGINT) AS partner_headcount,
        CAST(coalesce(sum(headcount) FILTER (WHERE is_partner(framework) AND role = 'training_audience'), 0) AS BIGINT)
            AS training_audience_headcount,
        CAST(coalesce(sum(headcount) FILTER (WHERE is_partner(framework) AND role = 'observer'), 0) AS BIGINT)
            AS observer_headcount
    FROM exercise_rows
    GROUP BY ALL
)
SELECT * FROM final
ORDER BY year, activity_code, iteration_id;
