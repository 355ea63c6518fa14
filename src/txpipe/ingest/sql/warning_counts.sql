-- How many kept rows carry each warning.
SELECT warning, count(*)
FROM (SELECT unnest(warnings) AS warning FROM judged WHERE len(reasons) = 0)
GROUP BY warning;
