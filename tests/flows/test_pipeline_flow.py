"""The main job as a flow: ingest, then build, publish and export marts."""

from __future__ import annotations

import duckdb

from tests.conftest import row, write_csv
from txpipe.warehouse import METRIC_TABLES


def test_pipeline_publishes_the_warehouse_and_marts(settings, landing):
    from flows.pipeline import pipeline_flow

    write_csv(landing / "nso" / "a.csv", [row(), row(source_record_id="R2", nation="Narnia")])
    report = pipeline_flow(landing=str(landing), alert=False)  # half the rows are quarantined on purpose
    assert [r.rows_stored for r in report.records] == [1] and not report.nothing_to_do
    assert list(report.seconds) == ["lock and recovery", "decide", "ingest", "build"]
    with duckdb.connect(str(report.build.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM participation").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)
    assert sorted(p.name for p in settings.marts_dir.iterdir()) == sorted(
        f"{t}.{ext}" for t in METRIC_TABLES for ext in ("csv", "parquet")
    )


def test_a_run_with_nothing_new_runs_no_stage_and_keeps_the_publish(settings, landing):
    from flows.pipeline import pipeline_flow

    write_csv(landing / "nso" / "a.csv", [row()])
    first = pipeline_flow(landing=str(landing))
    (landing / "stray.csv").write_text("x\n")
    again = pipeline_flow(landing=str(landing))
    assert again.nothing_to_do and again.records == [] and again.build.skipped
    assert again.build.counts == first.build.counts and [e.path for e in again.ingest.skipped] == ["stray.csv"]
    assert "ingest" not in again.seconds and "build" not in again.seconds


def test_reprocess_judges_the_held_deliveries_again_through_the_flow(settings, landing):
    from flows.pipeline import pipeline_flow

    write_csv(landing / "nso" / "a.csv", [row()])
    first = pipeline_flow(landing=str(landing))
    again = pipeline_flow(landing=str(landing), reprocess=True)  # nothing changed, asked anyway
    assert not again.nothing_to_do and again.ingest.rejudged == 1
    [record] = again.records
    assert record.rejudged == first.records[0].batch_id and record.received_at == first.records[0].received_at
    with duckdb.connect(str(again.build.warehouse), read_only=True) as con:
        assert con.execute("SELECT status, count(*) FROM deliveries GROUP BY 1 ORDER BY 1").fetchall() == [
            ("stored", 1),
            ("superseded", 1),
        ]
