-- Display names of the nations shown (only the partner's own when $partner is set).
SELECT code, any_value(name ORDER BY valid_from DESC NULLS LAST) AS name
FROM nations
WHERE $partner IS NULL OR code = $partner
GROUP BY code
ORDER BY code;
