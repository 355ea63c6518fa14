"""Marts: every metrics_* table of the published warehouse exported as Parquet and CSV for dashboards.

Every CSV txpipe writes goes through :func:`write_csv_atomic`, whose text cells are made formula-safe
by :func:`txpipe.text.spreadsheet_safe`: wherever a spreadsheet splitting on ``,`` ``;`` or tab (or at
a line break) could start a cell that it would read as a formula, an apostrophe is put first. Numbers
and dates are written as they are; Parquet keeps every value exactly.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.store.atomic import replace_atomically
from txpipe.store.lake import write_atomic
from txpipe.text import FORMULA_SUSPECT, spreadsheet_safe
from txpipe.warehouse import METRIC_TABLES


def _is_text(type_: pa.DataType) -> bool:
    return bool(pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_string_view(type_))


def _safe_text(array: pa.Array) -> pa.Array:
    """A text array with every value :func:`spreadsheet_safe` (a dictionary array: its dictionary)."""
    if isinstance(array, pa.DictionaryArray):
        return pa.DictionaryArray.from_arrays(array.indices, _safe_text(array.dictionary))
    suspect = pc.match_substring_regex(array, FORMULA_SUSPECT)  # the rest is written as it is, unread
    if not pc.any(suspect).as_py():
        return array
    values = zip(array.to_pylist(), suspect.to_pylist(), strict=True)
    return pa.array([spreadsheet_safe(v) if check else v for v, check in values], type=array.type)


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """The table with its text cells made safe to open in a spreadsheet (see the module's doc)."""
    columns = []
    for column in table.columns:
        type_ = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if _is_text(type_):
            column = pa.chunked_array([_safe_text(chunk) for chunk in column.chunks], type=column.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_csv_atomic(table: pa.Table, path: Path) -> Path:
    """The one CSV writer of txpipe's outputs: ``table`` with formula-safe text, atomically at ``path``."""
    import pyarrow.csv as pacsv

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
