-- Keep each row's position, id and two independent hashes of its delivered values (not the values).
INSERT INTO census_rows
SELECT source_row, id, hash(row_values), hash(row_values, 'txpipe-census')
FROM census_chunk;
