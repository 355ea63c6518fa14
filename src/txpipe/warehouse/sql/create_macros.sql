-- Definitions shared by every metric (docs/CONTRACT.md "Definitions").
CREATE OR REPLACE MACRO is_attended(status) AS status IN ('attended', 'completed', 'passed', 'failed');
CREATE OR REPLACE MACRO is_partner(framework) AS framework IN ('PFP', 'MD', 'ICI', 'PAG', 'IO');
