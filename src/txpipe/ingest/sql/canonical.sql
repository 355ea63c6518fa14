-- The rows to judge: every delivered row but exact duplicates.
CREATE VIEW canonical AS
SELECT *
FROM delivered
WHERE NOT EXISTS (
    SELECT 1 FROM duplicates AS d WHERE d.delivery = delivered.delivery AND d.source_row = delivered.source_row
);
