"""Marts: every metric table as Parquet and CSV, CSV safe from formula injection."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import ingest_all, row, write_csv
from txpipe.outputs.marts import export_marts, neutralise_formulas
from txpipe.warehouse import METRIC_TABLES
from txpipe.warehouse.publish import publish_warehouse


def test_neutralise_formulas_only_touches_risky_text():
    table = pa.table(
        {"t": ["=1+1", "+A", "-x", "@SUM(A1)", "\tx", "plain", None, "a=b"], "n": [-1, 2, 3, 4, 5, 6, 7, 8]}
    )
    out = neutralise_formulas(table)
    assert out["t"].to_pylist() == ["'=1+1", "'+A", "'-x", "'@SUM(A1)", "'\tx", "plain", None, "a=b"]
    assert out["n"].to_pylist() == table["n"].to_pylist()


def test_marts_are_exported_and_csv_cells_neutralised(settings, landing):
    write_csv(landing / "nso" / "a.csv", [row(iteration_id='=HYPERLINK("http://example.invalid","x")')])
    [record] = ingest_all(settings, landing)
    assert record.warnings == {"iteration_id_malformed": 1}
    path, _ = publish_warehouse(settings)
    files = export_marts(path, settings.marts_dir)
    assert sorted(p.name for p in files) == sorted(f"{t}.{e}" for t in METRIC_TABLES for e in ("parquet", "csv"))
    csv_text = (settings.marts_dir / "metrics_fill_rate.csv").read_text()
    assert "'=HYPERLINK(" in csv_text and '"=HYPERLINK(' not in csv_text
    parquet = pq.read_table(settings.marts_dir / "metrics_fill_rate.parquet")
    assert any(v.startswith("=HYPERLINK(") for v in parquet["iteration_id"].to_pylist())  # Parquet keeps the value
