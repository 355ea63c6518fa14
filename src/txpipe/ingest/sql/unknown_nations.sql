-- The distinct delivered nations of the rows quarantined as nation_unknown.
SELECT DISTINCT d.nation
FROM judged AS j
JOIN delivered AS d ON d.source_row = j.source_row
WHERE list_contains(j.reasons, 'nation_unknown') AND d.nation IS NOT NULL;
