-- The deliveries whose rows a warehouse holds.
SELECT batch_id FROM deliveries WHERE status = 'stored';
