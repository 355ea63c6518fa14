"""The values roster deliveries are drawn from: sources and their shares, column names, weights and
pools, and the defects and warnings that may be planted with the rule expected to catch each."""

from __future__ import annotations

from typing import Any, TypeAlias

from txpipe.schema import LANDING_COLUMNS

# One row as the generator handles it: canonical column -> text or None (values are written out as
# they are, defects included), plus the internal ``__broken__`` mark of a JSON line to cut off.
Record: TypeAlias = dict[str, Any]

SOURCES = ("nso", "jftc", "mtep", "jadl")
# Share of the rows each source delivers (renormalised over the sources chosen).
SHARE = {"nso": 0.4, "jftc": 0.2, "mtep": 0.1, "jadl": 0.3}

# Defect -> the rule that must catch it (None: collapsed as an exact duplicate).
DEFECTS: dict[str, str | None] = {
    "unknown_nation": "nation_unknown",
    "end_before_start": "end_before_start",
    "unknown_status": "status_invalid",
    "missing_participant_ref": "participant_ref_missing",
    "exact_duplicate": None,
    "conflicting_duplicate": "conflicting_duplicate",
    "broken_json_line": "json_line_malformed",
    "invalid_date": "start_date_invalid",
    "score_out_of_range": "score_invalid",
    "malformed_activity_code": "activity_code_malformed",
}
# Content that is kept but warned about -> its warning rule.
WARNINGS: dict[str, str] = {
    "activity_not_in_catalogue": "activity_code_not_in_catalogue",
}
NOT_IN_CATALOGUE_SHARE = 0.10
# Iteration ids written in another shape (E3-450/A/2025, A-25, ...): stored under their canonical id, no warning.
OTHER_ITERATION_SHAPE_SHARE = 0.15
# Well-formed NATO-style activity codes that the catalogue does not hold, per programme.
UNCATALOGUED = {
    "education": ("N2-106", "M6-140", "N7-58", "P3-12", "M4-201"),
    "training": ("T3-77", "T7-104", "PTC-21", "MTT-8"),
    "exercise": ("E4-480", "E5-512", "STDF-25"),
    "online": ("ADL-301", "ADL-412", "ADL-099"),
}

# The header row of NSO exports: the office's own names, mapped by data/sources/nso.toml.
NSO_HEADERS = [
    "Record",
    "Course",
    "Course Title",
    "Class",
    "Start",
    "End",
    "Country",
    "Student No.",
    "Student Name",
    "Email",
    "Gender",
    "Rank",
    "Result",
    "Score",
    "Remarks",
]
# The canonical columns: JADL CSV headers and JFTC JSON keys.
CANONICAL_HEADERS = list(LANDING_COLUMNS)
# The keys of MTEP JSON Lines objects, mapped by data/sources/mtep.toml.
MTEP_KEYS = [
    "contingent_id",
    "exercise",
    "exercise_name",
    "serial",
    "provider",
    "start_date",
    "end_date",
    "nation",
    "participant_ref",
    "persons",
    "sex",
    "rank",
    "capacity",
    "status",
]

# Relative weight of a nation by its partnership framework (also used by the LRS learner pool).
PARTNER_WEIGHT = {"PFP": 5, "MD": 3, "ICI": 2, "PAG": 2, "IO": 1, "ALLY": 2}
# Participation statuses by frequency; NSO writes some in its own words, and ranks are drawn from a pool.
STATUS_WEIGHTS = {
    "passed": 62,
    "completed": 8,
    "failed": 5,
    "attended": 4,
    "no_show": 6,
    "cancelled": 5,
    "withdrawn": 3,
    "registered": 4,
    "nominated": 3,
}
NSO_RESULT = {"passed": "Graduated", "failed": "Not graduated", "no_show": "Did not attend", "registered": "Enrolled"}
RANK_POOL = [f"OF-{i}" for i in range(1, 7)] * 3 + [f"OR-{i}" for i in range(4, 10)] + ["WO-2", "CIV", "CIV"]
# Spellings no resolver may place: fiction, an aggregate of the World Bank, a US state, an ambiguous name.
UNKNOWN_NATIONS = ("Narnia", "Atlantis", "ZZZ", "Freedonia", "Euro area", "Georgia (US state)", "Congo")
UNKNOWN_STATUSES = ("pending review", "postponed", "in progress")
