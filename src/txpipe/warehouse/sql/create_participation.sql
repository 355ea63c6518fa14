-- One row per current record. A new warehouse starts with an empty table (of the incoming rows'
-- columns); a warehouse copied from the published one keeps the rows it holds.
CREATE TABLE IF NOT EXISTS participation AS
SELECT * FROM incoming_participation LIMIT 0;
