"""The main job as a flow: ingest, then build, publish and export marts."""

from __future__ import annotations

import duckdb

from tests.conftest import row, write_csv
from txpipe.warehouse import METRIC_TABLES


def test_pipeline_publishes_the_warehouse_and_marts(settings, landing):
    from flows.pipeline import pipeline_flow

    write_csv(landing / "nso" / "a.csv", [row(), row(source_record_id="R2", nation="Narnia")])
    result = pipeline_flow(landing=str(landing), alert=False)  # half the rows are quarantined on purpose
    assert [r.rows_stored for r in result["deliveries"]] == [1]
    with duckdb.connect(str(result["build"].warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM participation").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (1,)
    assert sorted(p.name for p in settings.marts_dir.iterdir()) == sorted(
        f"{t}.{ext}" for t in METRIC_TABLES for ext in ("csv", "parquet")
    )
