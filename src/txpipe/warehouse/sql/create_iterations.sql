-- Iterations of catalogue activities with the seats offered, from data/reference/iterations.csv.
CREATE OR REPLACE TABLE iterations AS
SELECT
    iteration_id,
    activity_code,
    CAST(start_date AS DATE) AS start_date,
    CAST(end_date AS DATE) AS end_date,
    CAST(seats_offered AS INTEGER) AS seats_offered
FROM read_csv($path, header = true, all_varchar = true)
ORDER BY iteration_id;
