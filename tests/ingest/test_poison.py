"""Issue 23: bytes that make txpipe crash never block later runs. The delivery is rejected with the stage
and the error's type (never a value), recorded, and not tried again until the file changes; the other
deliveries of the run are ingested as if it were not there."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ingest_all, row, write_csv

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
