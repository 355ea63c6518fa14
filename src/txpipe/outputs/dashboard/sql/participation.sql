-- Attended participation per year, quarter, nation, framework, programme (one nation when $partner is set).
SELECT year, quarter, nation, framework, programme, participants, individuals, participant_events, activities
FROM metrics_participation
WHERE $partner IS NULL OR nation = $partner
ORDER BY year, quarter, nation, programme;
