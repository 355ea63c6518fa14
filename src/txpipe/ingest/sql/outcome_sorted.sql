-- The outcome of every row of a batch of many (small) deliveries, with the records the reader could
-- not place quarantined among them, sorted by delivery and position (read out delivery by delivery).
SELECT *
FROM (
    SELECT *
    FROM ({outcome}) AS outcome
    UNION ALL BY NAME
    SELECT delivery, source_row, [rule] AS reasons, json_object('problem', message)::VARCHAR AS offending_values,
           '{{}}' AS record
    FROM issues
)
ORDER BY delivery, source_row
