-- The batch's rows as spooled chunk by chunk, delivery by delivery in delivered order, with two independent hashes
-- of each row's delivered values (participant_pid for participant_ref) for the census.
CREATE VIEW delivered AS
SELECT *,
       hash(struct_pack({hashed})) AS hash_a,
       hash(struct_pack({hashed}), 'txpipe-census') AS hash_b
FROM spool;
