-- Partner nations engaged out of partners active, by year, programme and partner framework.
CREATE OR REPLACE TABLE metrics_partner_coverage AS
WITH
years AS (
    SELECT DISTINCT year(start_date) AS year FROM participation
),
programmes AS (
    SELECT unnest(['education', 'training', 'exercise']) AS programme
),
frameworks AS (
    SELECT unnest(['PFP', 'MD', 'ICI', 'PAG', 'IO']) AS framework
),
active_periods AS (
    -- The days a nation held a framework and was not suspended. A suspended row with no
    -- status_from is suspended throughout; with one, it was active until the day before.
    SELECT
        code,
        framework,
        coalesce(valid_from, DATE '0001-01-01') AS active_from,
        CASE
            WHEN status = 'suspended' THEN least(coalesce(valid_to, DATE '9999-12-31'), status_from - 1)
            ELSE coalesce(valid_to, DATE '9999-12-31')
        END AS active_to
    FROM nations
    WHERE is_partner(framework)
      AND NOT (status = 'suspended' AND status_from IS NULL)
),
active AS (
    SELECT y.year, a.framework, count(DISTINCT a.code) AS active_partners
    FROM years AS y
    JOIN active_periods AS a
        ON a.active_from <= make_date(y.year, 12, 31)
        AND a.active_to >= make_date(y.year, 1, 1)
        AND a.active_from <= a.active_to
    GROUP BY ALL
),
engaged AS (
    SELECT year(start_date) AS year, programme, framework, count(DISTINCT nation) AS engaged_partners
    FROM participation
    WHERE is_attended(status) AND is_partner(framework)
    GROUP BY ALL
),
grid AS (
    -- every year with data x programme x partner framework
    SELECT year, programme, framework
    FROM years
    CROSS JOIN programmes
    CROSS JOIN frameworks
),
final AS (
    SELECT
        g.year,
        g.programme,
        g.framework,
        coalesce(a.active_partners, 0) AS active_partners,
        coalesce(e.engaged_partners, 0) AS engaged_partners,
        CAST(coalesce(e.engaged_partners, 0) AS DOUBLE) / nullif(coalesce(a.active_partners, 0), 0) AS coverage_rate
    FROM grid AS g
    LEFT JOIN active AS a ON a.year = g.year AND a.framework = g.framework
    LEFT JOIN engaged AS e ON e.year = g.year AND e.programme = g.programme AND e.framework = g.framework
)
SELECT * FROM final
ORDER BY year, programme, framework;
