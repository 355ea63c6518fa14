-- Records of the delivery that the reader could not turn into rows.
CREATE TABLE issues (source_row BIGINT, rule VARCHAR, message VARCHAR);
