-- Held rows that an incoming version replaces leave; incoming rows that are current arrive.
-- Row order is not kept (writing unordered lets DuckDB write in parallel): order in the query.
SET preserve_insertion_order = false;

DELETE FROM participation AS p
USING replaced_versions AS r
WHERE p.batch_id = r.batch_id AND p.source_row = r.source_row;

INSERT INTO participation
SELECT * FROM incoming_participation
ANTI JOIN replaced_versions USING (batch_id, source_row);

RESET preserve_insertion_order;
DROP TABLE replaced_versions;
DROP VIEW incoming_participation;
