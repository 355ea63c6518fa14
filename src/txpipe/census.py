"""First pass over a delivery: count its rows and find duplicates across the whole file.

Exact duplicates collapse and conflicting duplicates are quarantined across the whole delivery,
however many chunks it streams in. This pass keeps, per row, only its position, its
source_record_id and two independent 64-bit hashes of its delivered contract values, in a DuckDB table with a
memory limit (it spills to disk), so memory does not grow with the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.normalize import ColumnPlan, delivered_values
from txpipe.readers import RawBatch

SQL_DIR = Path(__file__).parent / "sql"
MEMORY_LIMIT = "64MB"
INSERT = (SQL_DIR / "census_insert_chunk.sql").read_text()


@dataclass(frozen=True)
class Census:
    rows_read: int
    duplicate_rows: frozenset[int]  # source_row of every copy after the first
    conflicting_ids: tuple[str, ...]


def census_chunk(raw: pd.DataFrame) -> pa.Table:
    """Position, id and the delivered values of each row as one struct column (hashed by DuckDB)."""
    table = pa.Table.from_pandas(raw, preserve_index=False)
    values = pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], names=table.column_names)
    return pa.table({
        "source_row": pa.array(raw.index.to_numpy(), pa.int64()),
        "id": pc.utf8_trim_whitespace(table["source_record_id"]),
        "row_values": values,
    })


def take_census(batches: Iterable[RawBatch], plan: ColumnPlan, temp_dir: Path) -> Census:
    temp_dir.mkdir(parents=True, exist_ok=True)
    rows_read = 0
    # A file-backed scratch database: the census of a huge delivery lives on disk, not in memory.
    with duckdb.connect(str(temp_dir / "census.duckdb"), config={
            "memory_limit": MEMORY_LIMIT, "temp_directory": str(temp_dir), "preserve_insertion_order": False}) as con:
        con.execute("CREATE TABLE census_rows (source_row BIGINT, id VARCHAR, hash_a UBIGINT, hash_b UBIGINT)")
        for batch in batches:
            rows_read += len(batch.frame) + len(batch.issues)
            if batch.frame.empty:
                continue
            con.register("census_chunk", census_chunk(delivered_values(batch.frame, plan)))
            con.execute(INSERT)
            con.unregister("census_chunk")
        duplicates = con.execute((SQL_DIR / "census_duplicate_rows.sql").read_text()).fetchnumpy()["source_row"]
        conflicting = [row[0] for row in con.execute((SQL_DIR / "census_conflicting_ids.sql").read_text()).fetchall()]
    return Census(rows_read, frozenset(int(r) for r in duplicates), tuple(conflicting))
