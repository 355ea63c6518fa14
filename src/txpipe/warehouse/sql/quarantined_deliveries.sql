-- The deliveries whose quarantined rows a warehouse holds (stored or superseded since).
SELECT DISTINCT batch_id FROM quarantine;
