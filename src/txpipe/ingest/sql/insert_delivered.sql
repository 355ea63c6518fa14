-- One chunk from the reader; two independent hashes of its delivered values (census).
INSERT INTO delivered
SELECT source_row, {values}, census_id,
       hash(struct_pack({values})),
       hash(struct_pack({values}), 'txpipe-census')
FROM chunk;
