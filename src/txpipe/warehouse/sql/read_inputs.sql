-- The fingerprint a warehouse recorded when it was built (record_inputs.sql).
SELECT fingerprint FROM txpipe_build.inputs;
