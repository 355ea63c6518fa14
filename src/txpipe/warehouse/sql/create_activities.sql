-- The activity catalogue as loaded from data/reference/activities.csv.
CREATE OR REPLACE TABLE activities AS
SELECT
    activity_code,
    title,
    programme,
    provider,
    delivery_mode,
    CAST(duration_days AS INTEGER) AS duration_days
FROM read_csv($path, header = true, all_varchar = true)
ORDER BY activity_code;
