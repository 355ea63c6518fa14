"""First pass over a delivery: count its rows and find duplicates across the whole file.

Exact duplicates collapse and conflicting duplicates are quarantined across the whole delivery,
however many chunks it streams in. The census keeps, per row, only its position, its
source_record_id and two independent 64-bit hashes of its delivered contract values, in a DuckDB
table with a memory limit (it spills to disk), so memory does not grow with the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest.spool import SOURCE_ROW

SQL_DIR = Path(__file__).parent / "sql"
# DuckDB's memory: small while chunks stream in (the reader's chunks are in memory then), larger to
# settle the duplicates once reading is over. Both spill to disk beyond.
READING_MEMORY_LIMIT = "16MB"
SETTLING_MEMORY_LIMIT = "128MB"


def census_sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Census:
    rows_read: int
    duplicate_rows: frozenset[int]  # source_row of every copy after the first
    conflicting_ids: tuple[str, ...]


def census_chunk(table: pa.Table) -> pa.Table:
    """Position, id and the delivered values of each row as one struct column (hashed by DuckDB)."""
    values = table.drop_columns([SOURCE_ROW])
    row_values = pa.StructArray.from_arrays([c.combine_chunks() for c in values.columns], names=values.column_names)
    return pa.table(
        {
            SOURCE_ROW: table[SOURCE_ROW],
            "id": pc.utf8_trim_whitespace(table["source_record_id"]),
            "row_values": row_values,
        }
    )


class CensusTaker:
    """Counts rows and records their hashes chunk by chunk; :meth:`result` settles the duplicates."""

    def __init__(self, temp_dir: Path, shared: duckdb.DuckDBPyConnection | None = None) -> None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        self._shared = shared is not None
        self._held: list[pa.Table] = []  # a small delivery's chunks, until result() needs DuckDB
        if shared is not None:
            # A small delivery: a cursor on an in-memory database shared with others (a table of its own,
            # temporary, so private to the cursor). Opening a database costs more than such a census.
            self._con = shared.cursor()
            self._con.execute(census_sql("census_create").replace("CREATE TABLE", "CREATE TEMP TABLE"))
        else:
            # A file-backed scratch database: the census of a huge delivery lives on disk, not in memory.
            self._con = duckdb.connect(
                str(temp_dir / "census.duckdb"),
                config={
                    "memory_limit": READING_MEMORY_LIMIT,
                    "temp_directory": str(temp_dir),
                    "preserve_insertion_order": False,
                },
            )
            self._con.execute(census_sql("census_create"))
        self._insert = census_sql("census_insert_chunk")
        self.rows_read = 0

    def add(self, table: pa.Table, issues: int) -> None:
        """One chunk of delivered values (with source_row), and how many records beside it were unreadable."""
        self.rows_read += table.num_rows + issues
        if table.num_rows and self._shared:
            self._held.append(census_chunk(table))
        elif table.num_rows:
            self._con.register("census_chunk", census_chunk(table))
            self._con.execute(self._insert)
            self._con.unregister("census_chunk")

    def result(self) -> Census:
        if self._shared:
            held = pa.concat_tables(self._held) if self._held else None
            # No id occurs twice (a missing id counts as one value): no row can be a duplicate of another.
            if held is None or pc.count_distinct(held["id"], mode="all").as_py() == held.num_rows:
                return Census(self.rows_read, frozenset(), ())
            self._con.register("census_chunk", held)
            self._con.execute(self._insert)
            self._con.unregister("census_chunk")
        else:
            self._con.execute(f"SET memory_limit = '{SETTLING_MEMORY_LIMIT}'")
        duplicates = self._con.execute(census_sql("census_duplicate_rows")).fetchnumpy()["source_row"]
        conflicting = [row[0] for row in self._con.execute(census_sql("census_conflicting_ids")).fetchall()]
        return Census(self.rows_read, frozenset(int(r) for r in duplicates), tuple(conflicting))

    def close(self) -> None:
        if self._shared:
            self._con.execute("DROP TABLE IF EXISTS temp.census_rows")
        self._con.close()

    def __enter__(self) -> CensusTaker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
