-- Every delivered row but exact duplicates, with its canonical values: rewritten columns through
-- their value maps (map_N: value -> canonical, a missing value included), others with their default.
CREATE TABLE canonical AS
SELECT d.source_row,
       {columns}
FROM delivered AS d
{joins}
WHERE d.source_row NOT IN (SELECT source_row FROM duplicates);
