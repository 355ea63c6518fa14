-- The overall totals a partner may see: all partners' attended headcount per year and programme.
-- Small-cell rule: a total over fewer than $min_nations partner nations is withheld (NULL, withheld
-- true), since the partner's own figure subtracted from it would give another nation's figure.
-- Used by the partner marts (totals.*) and the partner dashboard (which also withholds a year's
-- total over all programmes when any of its programme totals is withheld).
SELECT
    year,
    programme,
    CASE WHEN count(DISTINCT nation) >= $min_nations THEN CAST(sum(participants) AS BIGINT) END
        AS all_partner_participants,
    count(DISTINCT nation) AS partner_nations,
    count(DISTINCT nation) < $min_nations AS withheld
FROM metrics_participation
WHERE is_partner(framework)
GROUP BY year, programme
ORDER BY year, programme;
