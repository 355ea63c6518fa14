"""Each row rule, end to end: a one-row delivery breaking it lands in quarantine under its name."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ingest_all, read_parquet_rows, row, write_csv

CASES = [
    ("source_record_id_missing", {"source_record_id": ""}),
    ("source_record_id_too_long", {"source_record_id": "R" * 101}),
    ("activity_title_too_long", {"activity_title": "T" * 501}),
    ("provider_too_long", {"provider": "P" * 201}),
    ("programme_missing", {"programme": ""}),
    ("programme_invalid", {"programme": "seminar"}),
    ("activity_code_missing", {"activity_code": ""}),
    ("activity_code_malformed", {"activity_code": "N5 35"}),
    ("start_date_missing", {"start_date": ""}),
    ("start_date_invalid", {"start_date": "2024-02-30"}),
    ("end_date_missing", {"end_date": ""}),
    ("end_date_invalid", {"end_date": "next week"}),
    ("end_before_start", {"end_date": "2024-03-01"}),
    ("delivery_mode_invalid", {"delivery_mode": "carrier pigeon"}),
    ("nation_missing", {"nation": ""}),
    ("nation_unknown", {"nation": "Narnia"}),
    ("nation_unknown", {"nation": "Brazil"}),  # a real country, but not in nations.csv
    ("headcount_invalid", {"headcount": "0"}),
    ("headcount_invalid", {"headcount": "2.5"}),
    ("participant_ref_missing", {"participant_ref": ""}),
    ("sex_invalid", {"sex": "Q"}),
    ("rank_invalid", {"rank": "General"}),
    ("role_invalid", {"role": "spectator"}),
    ("status_missing", {"status": ""}),
    ("status_invalid", {"status": "graduated"}),
    ("score_invalid", {"score": "101"}),
    ("score_invalid", {"score": "-1"}),
    ("score_invalid", {"score": "n/a"}),
]


def ingest_rows(settings, landing, rows, name="test/d.csv"):
    write_csv(landing / name, rows)
    [record] = ingest_all(settings, landing)
    return record, read_parquet_rows(settings.quarantine_dir), read_parquet_rows(settings.participation_dir)


@pytest.mark.parametrize("rule,change", CASES, ids=[f"{r}-{next(iter(c.values())) or 'blank'}" for r, c in CASES])
def test_rule_quarantines_the_row_under_its_name(settings, landing, rule, change):
    """The bad row is quarantined with exactly that rule; a good neighbour is stored."""
    bad_row = {**row(source_record_id="BAD"), **change}
    record, quarantined, stored = ingest_rows(settings, landing, [row(source_record_id="OK"), bad_row])
    assert (record.rows_read, record.rows_stored, record.rows_quarantined) == (2, 1, 1)
    [bad] = quarantined
    assert bad["reasons"] == [rule]
    assert bad["source_row"] == 3
    column = next(iter(change))
    offending = json.loads(bad["offending_values"])
    if column == "participant_ref":
        assert offending == {"participant_ref": None}
    else:
        assert offending[column] == (change[column] or None)
    assert [s["source_record_id"] for s in stored] == ["OK"]


def test_contingent_needs_no_participant_ref(settings, landing):
    record, quarantined, stored = ingest_rows(settings, landing, [row(headcount="40", participant_ref="")])
    assert record.rows_stored == 1 and quarantined == []
    assert stored[0]["headcount"] == 40 and stored[0]["participant_pid"] is None


def test_warning_rules_keep_the_row_and_count(settings, landing):
    record, quarantined, stored = ingest_rows(
        settings, landing, [row(activity_code="Z9-999", iteration_id="spring intake")]
    )
    assert quarantined == [] and record.rows_stored == 1
    assert record.warnings == {"activity_code_not_in_catalogue": 1, "iteration_id_malformed": 1}
    assert stored[0]["warnings"] == ["activity_code_not_in_catalogue", "iteration_id_malformed"]


def test_exact_duplicates_collapse_and_conflicting_ones_are_all_quarantined(settings, landing):
    rows = [
        row(source_record_id="D"),
        row(source_record_id="D"),
        row(source_record_id="C"),
        row(source_record_id="C", status="failed"),
        row(source_record_id="C", status="withdrawn", score=""),
    ]
    record, quarantined, _stored = ingest_rows(settings, landing, rows)
    assert (record.rows_read, record.rows_stored, record.rows_quarantined, record.rows_duplicate) == (5, 1, 3, 1)
    assert sorted(q["source_row"] for q in quarantined) == [4, 5, 6]
    assert all(q["reasons"] == ["conflicting_duplicate"] for q in quarantined)


def test_several_rules_on_one_row_are_all_named(settings, landing):
    _, [bad], _ = ingest_rows(settings, landing, [row(nation="Narnia", status="unsure", start_date="2024-13-01")])
    assert bad["reasons"] == ["start_date_invalid", "nation_unknown", "status_invalid"]
    offending = json.loads(bad["offending_values"])
    assert all(label.endswith(")") for label in offending.pop("nation_did_you_mean"))  # "Armenia (ARM)", ...
    assert offending == {"start_date": "2024-13-01", "nation": "Narnia", "status": "unsure"}
