-- Partner participation per exercise iteration (all partners).
SELECT year, activity_code, iteration_id, partner_nations, partner_headcount, training_audience_headcount,
       observer_headcount
FROM metrics_exercises
ORDER BY year, activity_code, iteration_id;
