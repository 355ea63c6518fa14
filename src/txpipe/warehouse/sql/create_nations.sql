-- The dated nations reference as loaded from data/reference/nations.csv.
CREATE OR REPLACE TABLE nations AS
SELECT
    code,
    name,
    framework,
    CAST(valid_from AS DATE) AS valid_from,
    CAST(valid_to AS DATE) AS valid_to,
    status,
    CAST(status_from AS DATE) AS status_from,
    note
FROM read_csv($path, header = true, all_varchar = true)
ORDER BY code, valid_from NULLS FIRST;
