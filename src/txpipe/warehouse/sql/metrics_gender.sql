-- Attended headcount by sex, women's share and sex-data coverage.
CREATE OR REPLACE TABLE metrics_gender AS
WITH
attended AS (
    SELECT year(start_date) AS year, nation, framework, programme, sex, headcount
    FROM participation
    WHERE is_attended(status)
),
counts AS (
    SELECT
        year,
        nation,
        framework,
        programme,
        CAST(coalesce(sum(headcount) FILTER (WHERE sex = 'F'), 0) AS BIGINT) AS women,
        CAST(coalesce(sum(headcount) FILTER (WHERE sex = 'M'), 0) AS BIGINT) AS men,
        CAST(coalesce(sum(headcount) FILTER (WHERE sex = 'X'), 0) AS BIGINT) AS other,
        CAST(coalesce(sum(headcount) FILTER (WHERE sex = 'U'), 0) AS BIGINT) AS unknown
    FROM attended
    GROUP BY ALL
),
final AS (
    SELECT
        *,
        CAST(women AS DOUBLE) / nullif(women + men + other, 0) AS women_share,
        CAST(women + men + other AS DOUBLE) / nullif(women + men + other + unknown, 0) AS sex_coverage
    FROM counts
)
SELECT * FROM final
ORDER BY year, nation, framework, programme;
