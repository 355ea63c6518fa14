-- Course completion of partners for the latest year with data: education and training only
-- (exercises have no completion, so their attended contingents never fill the denominator).
WITH
latest AS (
    SELECT max(year) AS year FROM metrics_participation
),
course_rows AS (
    SELECT o.*
    FROM metrics_outcomes AS o
    JOIN latest USING (year)
    WHERE is_partner(o.framework)
        AND o.programme IN ('education', 'training')
),
final AS (
    SELECT
        year,
        framework,
        CAST(sum(completed + passed) AS BIGINT) AS completed_or_passed,
        CAST(sum(attended_total) AS BIGINT) AS attended_total,
        CAST(sum(completed + passed) AS DOUBLE) / nullif(sum(attended_total), 0) AS completion_rate
    FROM course_rows
    GROUP BY year, framework
)
SELECT * FROM final
ORDER BY framework;
