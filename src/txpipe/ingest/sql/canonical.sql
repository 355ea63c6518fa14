-- The rows to judge: every delivered row but exact duplicates.
CREATE VIEW canonical AS
SELECT *
FROM delivered
WHERE source_row NOT IN (SELECT source_row FROM duplicates);
