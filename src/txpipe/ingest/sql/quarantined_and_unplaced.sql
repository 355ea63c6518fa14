-- The quarantined rows and the records the reader could not place, together in delivered order.
SELECT source_row, reasons, offending_values, record, suggested
FROM ({outcome}) AS outcome
WHERE len(reasons) > 0
UNION ALL
SELECT source_row, [rule], '{{"problem": ' || to_json(message) || '}}', '{{}}', NULL
FROM issues
ORDER BY source_row
