-- Every judged row once (in the order of ``judged``: delivered order when one thread reads it), typed
-- as the lake stores it: kept rows (no reasons) carry their warnings; quarantined rows their reasons,
-- the delivered values those rules judged and the whole delivered row (JSON objects), and for an
-- unknown nation the closest reference one.
SELECT j.source_record_id, j.programme, j.activity_code, j.activity_title, j.iteration_id, j.iteration_id_delivered,
       j.provider,
       TRY_CAST(j.start_date AS DATE) AS start_date, TRY_CAST(j.end_date AS DATE) AS end_date,
       j.delivery_mode, j.nation, j.participant_pid, TRY_CAST(j.headcount AS INTEGER) AS headcount,
       j.sex, j."rank", j.role, j.status, TRY_CAST(j.score AS DOUBLE) AS score, j.warnings, j.delivery, j.source_row,
       j.reasons,
       CASE WHEN len(j.reasons) > 0 THEN {offending} END AS offending_values,
       CASE WHEN len(j.reasons) > 0 THEN {record} END AS record,
       CASE WHEN list_contains(j.reasons, 'nation_unknown') THEN s.first END AS suggested
FROM judged AS j
LEFT JOIN suggestions AS s ON j."raw:nation" = s.nation
