-- Warning rules of the stored rows per source (rows kept, with the rule counted).
SELECT source, warning, count(*) AS rows_stored
FROM (SELECT source, unnest(warnings) AS warning FROM participation)
GROUP BY source, warning
ORDER BY rows_stored DESC, source, warning;
