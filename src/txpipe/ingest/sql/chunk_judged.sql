-- One judged chunk of a small delivery (registered as ``chunk``: canonical columns, delivered values
-- as raw:<column>, the critical and warning rules each row broke) in the shape judged.sql gives the
-- set-based store: reasons an empty list for a kept row, warnings null when none. ``delivered`` is
-- the same rows, for the nation suggestions.
CREATE OR REPLACE TEMP VIEW judged AS
SELECT * REPLACE (coalesce(reasons, []::VARCHAR[]) AS reasons,
                  CASE WHEN len(warnings) = 0 THEN NULL ELSE warnings END AS warnings)
FROM chunk;

CREATE OR REPLACE TEMP VIEW delivered AS SELECT * FROM chunk;
