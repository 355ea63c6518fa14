-- Partner participants by framework and programme for the latest year with data.
WITH
latest AS (
    SELECT max(year) AS year FROM metrics_participation
),
partner_rows AS (
    SELECT m.*
    FROM metrics_participation AS m
    JOIN latest USING (year)
    WHERE is_partner(m.framework)
),
final AS (
    SELECT
        year,
        framework,
        CAST(coalesce(sum(participants) FILTER (WHERE programme = 'education'), 0) AS BIGINT) AS education,
        CAST(coalesce(sum(participants) FILTER (WHERE programme = 'training'), 0) AS BIGINT) AS training,
        CAST(coalesce(sum(participants) FILTER (WHERE programme = 'exercise'), 0) AS BIGINT) AS exercise,
        CAST(sum(participants) AS BIGINT) AS total,
        count(DISTINCT nation) AS nations
    FROM partner_rows
    GROUP BY year, framework
)
SELECT * FROM final
ORDER BY total DESC, framework;
