-- Attended participation by year, quarter, nation, framework and programme.
CREATE OR REPLACE TABLE metrics_participation AS
WITH
participation_rows AS (
    SELECT * FROM participation
),
attended AS (
    SELECT
        year(start_date) AS year,
        quarter(start_date) AS quarter,
        nation,
        framework,
        programme,
        headcount,
        participant_pid,
        activity_code,
        datediff('day', start_date, end_date) + 1 AS days
    FROM participation_rows
    WHERE is_attended(status)
),
final AS (
    SELECT
        year,
        quarter,
        nation,
        framework,
        programme,
        CAST(sum(headcount) AS BIGINT) AS participants,
        count(DISTINCT participant_pid) AS individuals,
        count(*) AS participant_events,
        count(DISTINCT activity_code) AS activities,
        CAST(sum(headcount * days) AS BIGINT) AS person_days
    FROM attended
    GROUP BY ALL
)
SELECT * FROM final
ORDER BY year, quarter, nation, framework, programme;
