-- The outcome of delivery $delivery's rows at positions $first < source_row <= $last (one chunk as
-- read), with the records the reader could not place there quarantined among them; in delivered order.
SELECT *
FROM (
    SELECT *
    FROM ({outcome}) AS outcome
    WHERE delivery = $delivery AND source_row > $first AND source_row <= $last
    UNION ALL BY NAME
    SELECT delivery, source_row, [rule] AS reasons, json_object('problem', message)::VARCHAR AS offending_values,
           '{{}}' AS record
    FROM issues
    WHERE delivery = $delivery AND source_row > $first AND source_row <= $last
)
ORDER BY source_row
