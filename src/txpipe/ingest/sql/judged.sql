-- Each canonical row with the rules it broke: fails:<rule> per rule (GX's verdicts on distinct
-- combinations joined back, or a set-based check), then the critical rules as reasons (empty: the
-- row is kept) and the warning rules as warnings (null when none), in suite order.
CREATE VIEW judged AS
WITH flagged AS (
    SELECT c.*,
           {checks}
    FROM canonical AS c
    {joins}
), listed AS (
    SELECT *,
           {reasons} AS reasons,
           {warnings} AS warning_list
    FROM flagged
)
SELECT COLUMNS(lambda name: NOT starts_with(name, 'fails:') AND name <> 'warning_list'),
       CASE WHEN len(warning_list) = 0 THEN NULL ELSE warning_list END AS warnings
FROM listed;
