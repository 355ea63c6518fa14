"""Marts: every metrics_* table of the published warehouse exported as Parquet and CSV for dashboards.

CSV cells beginning with = + - @ (or a tab or carriage return) are prefixed with a single quote,
so a spreadsheet never evaluates them as formulas.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from txpipe.store.atomic import replace_atomically
from txpipe.store.lake import write_atomic
from txpipe.warehouse import METRIC_TABLES

FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """Text cells that a spreadsheet would read as a formula get a leading apostrophe."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, FORMULA_START)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_csv_atomic(table: pa.Table, path: Path) -> Path:
    return replace_atomically(path, lambda tmp: pacsv.write_csv(neutralise_formulas(table), tmp))


def export_marts(warehouse: Path, marts_dir: Path) -> list[Path]:
    marts_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name in METRIC_TABLES:
            table = con.table(name).to_arrow_table()
            written.append(write_atomic(table, marts_dir / f"{name}.parquet"))
            written.append(write_csv_atomic(table, marts_dir / f"{name}.csv"))
    return written
