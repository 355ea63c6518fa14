-- The build-time view of the lake is not part of the published warehouse.
DROP VIEW lake_participation;
