-- Seats offered (catalogue) against attended headcount, per activity iteration. An iteration is its
-- (activity_code, iteration_id): ids are canonical (README "Iteration ids"), and an id left as delivered
-- that two activities share ("SPRING") stays two iterations.
CREATE OR REPLACE TABLE metrics_fill_rate AS
WITH
offered AS (
    SELECT iteration_id, activity_code, year(start_date) AS year, seats_offered
    FROM iterations
),
attended AS (
    SELECT
        iteration_id,
        activity_code,
        min(year(start_date)) AS year,
        CAST(sum(headcount) AS BIGINT) AS attended
    FROM participation
    WHERE is_attended(status) AND iteration_id IS NOT NULL
    GROUP BY iteration_id, activity_code
),
final AS (
    SELECT
        coalesce(o.year, a.year) AS year,
        coalesce(o.activity_code, a.activity_code) AS activity_code,
        coalesce(o.iteration_id, a.iteration_id) AS iteration_id,
        o.seats_offered,
        coalesce(a.attended, 0) AS attended,
        CAST(coalesce(a.attended, 0) AS DOUBLE) / nullif(o.seats_offered, 0) AS fill_rate
    FROM offered AS o
    FULL OUTER JOIN attended AS a ON a.iteration_id = o.iteration_id AND a.activity_code = o.activity_code
)
SELECT * FROM final
ORDER BY year, activity_code, iteration_id;
