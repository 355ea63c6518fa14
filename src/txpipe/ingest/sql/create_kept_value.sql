-- A delivered value as a quarantined row keeps it (its record and offending values): whole up to
-- 1,000 characters; a longer one as its length and its first 100 characters, so that the store stage
-- stays bounded (a broken export's long text is not copied whole into every row's JSON). JSON out.
CREATE OR REPLACE MACRO kept_value(v) AS
    CASE
        WHEN length(v) > 1000 THEN json_object('length', length(v), 'prefix', left(v, 100))
        ELSE to_json(v)
    END;
