-- The quarantined rows: their critical rules, the delivered values those rules judged and the whole
-- delivered row (JSON objects), then the records the reader could not place; in delivered order.
SELECT source_row, reasons, offending_values, record
FROM (
    SELECT j.source_row, j.reasons,
           {offending} AS offending_values,
           {record} AS record
    FROM judged AS j
    JOIN delivered AS d ON d.source_row = j.source_row
    LEFT JOIN suggestions AS s ON d.nation IS NOT DISTINCT FROM s.nation
    WHERE len(j.reasons) > 0
    UNION ALL
    SELECT source_row, [rule], '{{"problem": ' || to_json(message) || '}}', '{{}}'
    FROM issues
)
ORDER BY source_row;
