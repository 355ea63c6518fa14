-- Records of the batch's deliveries that the reader could not turn into rows.
CREATE TABLE issues (delivery INTEGER, source_row BIGINT, rule VARCHAR, message VARCHAR);
