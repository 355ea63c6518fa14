"""Issue 23: bytes that make txpipe crash never block later runs. The delivery is rejected with the stage
and the error's type (never a value), recorded, and not tried again until the file changes; the other
deliveries of the run are ingested as if it were not there."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ingest_all, read_parquet_rows, row, write_csv

SURROGATE = '"Ti\\ud800tle"'  # a lone surrogate escape: valid JSON text, no valid Unicode string


def _json_line(values: dict, raw_title: str | None = None, raw_key: bool = False) -> str:
    text = json.dumps(values)
    if raw_title is not None:
        text = text.replace(json.dumps(values["activity_title"]), raw_title)
    if raw_key:
        text = text.replace('"provider"', '"pro\\udc00vider"')
    return text


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("value.jsonl", lambda: _json_line(row(), SURROGATE) + "\n"),
        ("key.jsonl", lambda: _json_line(row(), raw_key=True) + "\n"),
        ("array.json", lambda: "[" + _json_line(row(source_record_id="R2")) + "," + _json_line(row(), SURROGATE) + "]"),
    ],
)
def test_a_lone_surrogate_is_recorded_once_and_never_blocks_the_next_run(settings, landing, name, content):
    write_csv(landing / "jadl" / "good.csv", [row(source_record_id="G1")])
    (landing / "mtep").mkdir()
    (landing / "mtep" / name).write_text(content(), encoding="utf-8")
    records = {r.source_file: r for r in ingest_all(settings, landing)}  # fails on any delivery left unrecorded
    assert records["good.csv"].status == "stored" and records["good.csv"].rows_stored == 1
    poisoned = records[name]
    assert (poisoned.status, poisoned.rows_read, poisoned.files) == ("rejected", 0, []), poisoned
    assert "could not be ingested: UnicodeEncodeError in stage" in poisoned.reason
    assert "Ti" not in poisoned.reason and "vider" not in poisoned.reason  # never the delivered text
    assert ingest_all(settings, landing) == []  # recorded: the next run has nothing to do


def test_long_values_of_quarantined_rows_are_kept_bounded_and_the_delivery_stored(settings, landing):
    """The adversary's file: 2,000 rows with a 10,000-character activity_title (each far below
    TXPIPE_MAX_FIELD_CHARS) crashed the store stage with DuckDB's out-of-memory. The store is bounded by
    construction: a quarantined row keeps a value over 1,000 characters as its length and a prefix."""
    rows = [row(source_record_id=f"R{i}", activity_title="T" * 10_000, participant_ref=f"P{i}") for i in range(2000)]
    write_csv(landing / "jadl" / "long.csv", rows)
    [record] = ingest_all(settings, landing)
    assert (record.status, record.rows_quarantined, record.quarantine_reasons) == (
        "stored",
        2000,
        {"activity_title_too_long": 2000},
    ), record
    quarantined = read_parquet_rows(settings.lake / "quarantine")
    assert len(quarantined) == 2000
    kept = {"length": 10_000, "prefix": "T" * 100}
    assert all(json.loads(q["record"])["activity_title"] == kept for q in quarantined)
    assert all(json.loads(q["offending_values"])["activity_title"] == kept for q in quarantined)
