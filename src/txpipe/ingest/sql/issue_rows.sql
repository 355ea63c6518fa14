-- The records the reader could not place, as quarantine rows: the rule and what was wrong.
SELECT source_row, [rule] AS reasons, '{"problem": ' || to_json(message) || '}' AS offending_values,
       '{}' AS record
FROM issues
ORDER BY source_row;
