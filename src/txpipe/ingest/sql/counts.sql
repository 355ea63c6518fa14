-- Rows kept, and rows quarantined (by a rule, or unreadable).
SELECT count(*) FILTER (WHERE len(reasons) = 0),
       count(*) FILTER (WHERE len(reasons) > 0) + (SELECT count(*) FROM issues)
FROM judged;
