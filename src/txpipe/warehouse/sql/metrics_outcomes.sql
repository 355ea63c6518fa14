-- Headcount per status and the outcome rates, by year, nation, framework and programme.
CREATE OR REPLACE TABLE metrics_outcomes AS
WITH
participation_rows AS (
    SELECT year(start_date) AS year, nation, framework, programme, status, headcount
    FROM participation
),
counts AS (
    SELECT
        year,
        nation,
        framework,
        programme,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'nominated'), 0) AS BIGINT) AS nominated,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'registered'), 0) AS BIGINT) AS registered,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'cancelled'), 0) AS BIGINT) AS cancelled,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'no_show'), 0) AS BIGINT) AS no_show,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'attended'), 0) AS BIGINT) AS attended,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'completed'), 0) AS BIGINT) AS completed,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'passed'), 0) AS BIGINT) AS passed,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'failed'), 0) AS BIGINT) AS failed,
        CAST(coalesce(sum(headcount) FILTER (WHERE status = 'withdrawn'), 0) AS BIGINT) AS withdrawn,
        CAST(coalesce(sum(headcount) FILTER (WHERE is_attended(status)), 0) AS BIGINT) AS attended_total
    FROM participation_rows
    GROUP BY ALL
),
final AS (
    SELECT
        *,
        CAST(completed + passed AS DOUBLE) / nullif(attended_total, 0) AS completion_rate,
        CAST(passed AS DOUBLE) / nullif(passed + failed, 0) AS pass_rate,
        CAST(no_show AS DOUBLE) / nullif(no_show + attended_total, 0) AS no_show_rate
    FROM counts
)
SELECT * FROM final
ORDER BY year, nation, framework, programme;
