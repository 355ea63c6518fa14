"""Issue 23: a rejection never deletes. A re-delivery under the same name that is rejected (0 bytes, the
wrong encoding) or holds no rows leaves the earlier stored delivery counting, and the ledger, run report,
validation report and dashboard say so; within one run, versions of a record are ordered by their files'
modification times, then names. And nothing at the landing root goes without a line in the run report."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from tests.conftest import ingest_all, row, write_csv
from txpipe.jobs.ingest_job import ingest_new
from txpipe.store.ledger import KEPT_LABEL, Ledger
from txpipe.warehouse.publish import publish_warehouse


def _participation(settings) -> list[tuple]:
    warehouse, _ = publish_warehouse(settings)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT source_record_id, source_file, status FROM participation ORDER BY 1").fetchall()


ROSTER = [row(source_record_id=f"R{i}", participant_ref=f"P{i}") for i in range(3)]


@pytest.mark.parametrize(
    "redelivery",
    [
        pytest.param(lambda path: path.write_bytes(b""), id="0 bytes"),
        pytest.param(lambda path: write_csv(path, ROSTER, encoding="latin-1") and _latin1(path), id="latin-1"),
        pytest.param(lambda path: path.write_text(",".join(ROSTER[0]) + "\n", encoding="utf-8"), id="header only"),
    ],
)
def test_a_rejected_or_empty_redelivery_keeps_the_earlier_delivery(settings, landing, redelivery):
    path = write_csv(landing / "jadl" / "roster.csv", ROSTER)
    [first] = ingest_all(settings, landing)
    before = _participation(settings)
    assert len(before) == 3

    redelivery(path)
    os.utime(path, ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))
    [second] = ingest_all(settings, landing, run_id="second")
    assert (second.status, second.kept, second.status_label) == ("rejected", first.batch_id, KEPT_LABEL)
    assert _participation(settings) == before  # participation 386 -> 0 was the break
    records = {r.batch_id: r for r in Ledger.of(settings).records()}
    assert records[first.batch_id].status == "stored"
    assert ingest_all(settings, landing, run_id="third") == []  # recorded: not read again until it changes

    report = json.loads((settings.reports_dir / "runs" / "ingest-second.json").read_text(encoding="utf-8"))
    assert [d["status_label"] for d in report["deliveries"]] == [KEPT_LABEL]
    with duckdb.connect(str(settings.home / "warehouse" / "txpipe.duckdb"), read_only=True) as con:
        kept = con.execute("SELECT kept FROM deliveries WHERE batch_id = ?", [second.batch_id]).fetchall()
    assert kept == [(first.batch_id,)]

    write_csv(path, ROSTER[:2])  # a good re-delivery supersedes both the stored and the rejected one
    [third] = ingest_all(settings, landing, run_id="fourth")
    records = {r.batch_id: r for r in Ledger.of(settings).records()}
    assert third.status == "stored"
    assert {records[b].status for b in (first.batch_id, second.batch_id)} == {"superseded"}
    assert [r[0] for r in _participation(settings)] == ["R0", "R1"]


def _latin1(path) -> bool:
    path.write_bytes(path.read_bytes().replace(b"NSO", "NSÖ".encode("latin-1")))
    return True


def test_within_a_run_the_file_modified_last_wins_not_the_name_sorting_last(settings, landing):
    newer = write_csv(landing / "jadl" / "a.csv", [row(source_record_id="R1", status="passed")])
    older = write_csv(landing / "jadl" / "b.csv", [row(source_record_id="R1", status="failed")])
    os.utime(older, ns=(1_700_000_000 * 10**9, 1_700_000_000 * 10**9))
    os.utime(newer, ns=(1_700_000_100 * 10**9, 1_700_000_100 * 10**9))
    ingest_all(settings, landing)
    assert _participation(settings) == [("R1", "a.csv", "passed")]


def test_files_outside_a_source_folder_are_listed_as_skipped(settings, landing):
    write_csv(landing / "jadl" / "roster.csv", [row()])
    (landing / "roster-at-root.csv").write_text("x\n", encoding="utf-8")
    write_csv(landing / ".hidden" / "roster.csv", [row()])
    run = ingest_new(settings, landing, run_id="r")
    report = json.loads(run.report.read_text(encoding="utf-8"))
    skipped = {entry["path"]: entry["reason"] for entry in report["skipped"]}
    assert set(skipped) == {".hidden", "roster-at-root.csv"}
    assert "hidden folder" in skipped[".hidden"] and "outside any source folder" in skipped["roster-at-root.csv"]
