-- The rows no critical rule failed, typed as the lake stores them, in delivered order.
SELECT source_record_id, programme, activity_code, activity_title, iteration_id, provider,
       CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date,
       delivery_mode, nation, participant_pid, CAST(headcount AS INTEGER) AS headcount,
       sex, "rank", role, status, CAST(score AS DOUBLE) AS score, warnings, source_row
FROM judged
WHERE len(reasons) = 0
;
