-- Per delivered row: its position, its source_record_id and two hashes of its values (see census_insert_chunk).
CREATE TABLE census_rows (source_row BIGINT, id VARCHAR, hash_a UBIGINT, hash_b UBIGINT);
