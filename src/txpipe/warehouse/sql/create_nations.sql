-- The dated nations reference as loaded from data/reference/nations.csv (checked first by
-- txpipe.reference.check_nations: one framework per nation on any day). The optional `source`
-- column (the public page a row's dates come from) is NULL when the file has no such column.
CREATE OR REPLACE TABLE nations AS
WITH loaded AS (
    FROM read_csv($path, header = true, all_varchar = true)
    UNION ALL BY NAME
    SELECT NULL::VARCHAR AS source WHERE false
)
SELECT
    code,
    name,
    framework,
    CAST(valid_from AS DATE) AS valid_from,
    CAST(valid_to AS DATE) AS valid_to,
    status,
    CAST(status_from AS DATE) AS status_from,
    note,
    source
FROM loaded
ORDER BY code, valid_from NULLS FIRST;
