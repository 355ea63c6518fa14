-- The outcome of delivery $delivery's rows, in the order the outcome gives them (delivered order
-- when read by one thread): for a delivery whose every record became a row.
SELECT *
FROM ({outcome}) AS outcome
WHERE delivery = $delivery
