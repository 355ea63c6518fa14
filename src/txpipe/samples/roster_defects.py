"""Defects planted in roster records: which ones a record may receive, and the damage each does."""

from __future__ import annotations

import datetime as dt
import random

from txpipe.samples.roster_vocab import UNKNOWN_NATIONS, UNKNOWN_STATUSES, Record


def plant(
    rng: random.Random, record: Record, source: str, jsonl: bool, defect_rate: float
) -> tuple[str | None, list[Record]]:
    """Maybe damage a record (with probability ``defect_rate``). Returns (defect, rows to write in its place)."""
    if rng.random() >= defect_rate:
        return None, [record]
    defect = rng.choice(_choices(record, source, jsonl))
    return defect, _damage(rng, record, defect)


def _choices(record: Record, source: str, jsonl: bool) -> list[str]:
    """The defects this record can carry, in a fixed order (the draw depends on it)."""
    choices = [
        "unknown_nation",
        "end_before_start",
        "unknown_status",
        "exact_duplicate",
        "conflicting_duplicate",
        "invalid_date",
        "score_out_of_range",
        "malformed_activity_code",
    ]
    if record["headcount"] == "1":
        choices.append("missing_participant_ref")
    if jsonl:
        choices.append("broken_json_line")
    if source == "mtep":  # exercise returns carry no score
        choices.remove("score_out_of_range")
    return choices


def _damage(rng: random.Random, record: Record, defect: str) -> list[Record]:
    """The rows that replace ``record`` once it carries ``defect``: one damaged copy, or the record and a duplicate."""
    bad = dict(record)
    if defect == "unknown_nation":
        bad["nation"] = rng.choice(UNKNOWN_NATIONS)
    elif defect == "end_before_start":
        start = dt.date.fromisoformat(record["start_date"])
        bad["end_date"] = (start - dt.timedelta(days=rng.randint(1, 30))).isoformat()
    elif defect == "unknown_status":
        bad["status"] = rng.choice(UNKNOWN_STATUSES)
    elif defect == "missing_participant_ref":
        bad["participant_ref"] = None
    elif defect == "exact_duplicate":
        return [record, dict(record)]
    elif defect == "conflicting_duplicate":
        other = dict(record)
        other["status"] = "withdrawn" if record["status"] != "withdrawn" else "cancelled"
        other["score"] = None
        return [record, other]
    elif defect == "broken_json_line":
        bad["__broken__"] = True
    elif defect == "invalid_date":
        bad["start_date"] = rng.choice(["2024-02-30", "2023-13-01", "TBC"])
        bad["end_date"] = record["end_date"]
    elif defect == "score_out_of_range":
        bad["score"] = rng.choice(["101", "-5", "n/a"])
    elif defect == "malformed_activity_code":
        bad["activity_code"] = rng.choice(["N5 35", "course 12", "N5_35"])
    return [bad]
