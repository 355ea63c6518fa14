-- How often each reference nation is the first suggestion for an unknown nation.
SELECT s.first, count(*)
FROM judged AS j
JOIN delivered AS d ON d.source_row = j.source_row
JOIN suggestions AS s ON d.nation = s.nation
WHERE list_contains(j.reasons, 'nation_unknown') AND s.first IS NOT NULL
GROUP BY s.first;
