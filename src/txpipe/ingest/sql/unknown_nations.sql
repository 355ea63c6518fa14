-- The distinct delivered nations whose canonical value is not a reference nation code (the rows
-- nation_unknown can quarantine), to look up the closest reference nations for once each.
SELECT DISTINCT "raw:nation" AS nation
FROM delivered
WHERE nation IS NOT NULL AND nation NOT IN (SELECT value FROM nation_codes);
