-- Combinations of critical rules rows are quarantined for (up to $limit of them), rules joined by U+001F.
SELECT DISTINCT array_to_string(reasons, chr(31)) AS combination
FROM judged
WHERE len(reasons) > 0
LIMIT $limit
