"""A delivery's working tables: one scratch DuckDB database per delivery, on local disk.

Every stage after the reader is SQL over these tables, so memory is bounded by DuckDB's limit
(it spills to the scratch folder beyond it), not by the size of the delivery:

- ``delivered``: the delivered values under canonical names, participant_ref already replaced by
  its pseudonym, with each row's position (source_row), its trimmed id and two hashes of its values
  (for the census);
- ``issues``: records the reader could not turn into rows (position, rule, message);
- ``duplicates``, ``canonical``, ``judged``: written by the later stages.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.readers import RowIssue
from txpipe.spool import SOURCE_ROW

SQL_DIR = Path(__file__).parent / "sql"
# DuckDB's memory for one delivery's working tables; beyond it, DuckDB spills to the scratch folder.
MEMORY_LIMIT = "256MB"
THREADS = 2


def sql(name: str, **identifiers: str) -> str:
    """The statement in ``sql/<name>.sql``; ``{placeholders}`` take identifier lists made from the
    suite and the schema (never delivered values: those are always bound parameters)."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return text.format(**identifiers) if identifiers else text


def quoted(name: str) -> str:
    """An SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """An SQL string literal for a name from the suite or the schema (not for delivered values)."""
    return "'" + text.replace("'", "''") + "'"


class Workspace:
    """The scratch database of one delivery and the first-pass inserts into it."""

    def __init__(self, folder: Path, value_columns: list[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.columns = value_columns
        self.con = duckdb.connect(":memory:", config={
            "memory_limit": MEMORY_LIMIT, "temp_directory": str(folder / "spill"), "threads": THREADS,
            "preserve_insertion_order": False})
        self.con.execute(sql("create_delivered", columns=",\n    ".join(f"{quoted(c)} VARCHAR" for c in value_columns)))
        self.con.execute(sql("create_issues"))

    def add(self, table: pa.Table, issues: list[RowIssue]) -> None:
        """One chunk of delivered values (source_row first), and the records beside it the reader could not place."""
        if table.num_rows:
            chunk = table.append_column("census_id", pc.utf8_trim_whitespace(table["source_record_id"]))
            self.con.register("chunk", chunk)
            values = ", ".join(quoted(c) for c in self.columns)
            self.con.execute(sql("insert_delivered", values=values))
            self.con.unregister("chunk")
        if issues:
            self.con.register("chunk_issues", pa.table({
                SOURCE_ROW: pa.array([i.source_row for i in issues], pa.int64()),
                "rule": pa.array([i.rule for i in issues], pa.string()),
                "message": pa.array([i.message for i in issues], pa.string()),
            }))
            self.con.execute("INSERT INTO issues SELECT * FROM chunk_issues")
            self.con.unregister("chunk_issues")

    def count(self, table: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {quoted(table)}").fetchall()[0][0])

    def close(self) -> None:
        self.con.close()
