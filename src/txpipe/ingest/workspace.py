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
import pyarrow.parquet as pq

from txpipe.ingest.readers import RowIssue
from txpipe.ingest.spool import SOURCE_ROW
from txpipe.ingest.values import CANONICAL_COLUMNS
from txpipe.schema import LANDING_COLUMNS

SQL_DIR = Path(__file__).parent / "sql"
# DuckDB's memory for one delivery's working tables; beyond it, DuckDB spills to the scratch folder.
MEMORY_LIMIT = "256MB"
THREADS = 2
SPOOL_BATCH_ROWS = 65_536  # rows per row group in the spool (DuckDB reads it back a row group at a time)


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


def issue_table(issues: list[RowIssue], offset: int = 0) -> pa.Table:
    """Records the reader could not turn into rows, as the ``issues`` table holds them (positions + offset)."""
    return pa.table(
        {
            SOURCE_ROW: pa.array([offset + i.source_row for i in issues], pa.int64()),
            "rule": pa.array([i.rule for i in issues], pa.string()),
            "message": pa.array([i.message for i in issues], pa.string()),
        }
    )


class Workspace:
    """The scratch database of one delivery, and the spool of its chunks.

    A chunk arrives as delivered values under canonical names (participant_ref as delivered) with
    the canonical values of its rewritten columns (from the normalise stage). Its participant_pid is
    computed in SQL (the keyed HMAC of :class:`txpipe.ingest.pseudonym.Pseudonymizer`), defaults are filled,
    and the chunk is spooled to local disk as an uncompressed Parquet file without its participant_ref: the raw
    ref exists only in the chunk in memory. The spool, read back by DuckDB, is ``delivered``: source_row,
    every canonical column, ``raw:<column>`` for each column whose delivered value may differ from its
    canonical one, census_id, and hash_a/hash_b (two hashes of the delivered values, for the census).
    """

    def __init__(
        self, folder: Path, rewritten: list[str], defaults: dict[str, str], pid_parameters: dict[str, object]
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(
            ":memory:",
            config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(folder / "spill"), "threads": THREADS},
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self.rewritten, self.defaults = rewritten, defaults
        self.raw = [*rewritten, *defaults]
        self.spaces = str(pid_parameters["spaces"])
        self.pid_parameters = {k: v for k, v in pid_parameters.items() if k != "spaces"}
        self.con.execute(sql("create_issues"))
        self.spool = folder / "spool"
        self.spool.mkdir()
        self.files: list[str] = []
        self.bounds: list[int] = []  # per chunk, the last position it holds (rows or unreadable records)

    def add(self, table: pa.Table, canonical: dict[str, pa.Array], issues: list[RowIssue]) -> None:
        """One chunk: delivered values (source_row first, participant_ref as delivered), the canonical
        values of its rewritten columns, and the records beside it the reader could not place."""
        last = max(
            [self.bounds[-1] if self.bounds else 0]
            + ([pc.max(table[SOURCE_ROW]).as_py()] if table.num_rows else [])
            + [i.source_row for i in issues]
        )
        self.bounds.append(last)
        if table.num_rows:
            self._spool(self._spooled(table, canonical))
        if issues:
            self.con.register("chunk_issues", issue_table(issues))
            self.con.execute("INSERT INTO issues SELECT * FROM chunk_issues")
            self.con.unregister("chunk_issues")

    def _pids(self, refs: pa.ChunkedArray) -> pa.ChunkedArray:
        # str.strip() of the ref, as the pid is defined (Arrow trims every character given, as strip does)
        self.con.register("chunk_refs", pa.table({"participant_ref": pc.utf8_trim(refs, characters=self.spaces)}))
        pids = self.con.sql(sql("participant_pids"), params=self.pid_parameters).to_arrow_table()["participant_pid"]
        self.con.unregister("chunk_refs")
        return pids

    def _spooled(self, table: pa.Table, canonical: dict[str, pa.Array]) -> pa.Table:
        columns: dict[str, pa.Array | pa.ChunkedArray] = {SOURCE_ROW: table[SOURCE_ROW]}
        for column in CANONICAL_COLUMNS:
            if column == "participant_pid":
                columns[column] = self._pids(table["participant_ref"])
            elif column in self.rewritten:
                columns[column], columns[f"raw:{column}"] = canonical[column], table[column]
            elif column in self.defaults:
                columns[column] = pc.coalesce(table[column], pa.scalar(self.defaults[column], pa.string()))
                columns[f"raw:{column}"] = table[column]
            else:
                columns[column] = table[column]
        columns["census_id"] = pc.utf8_trim_whitespace(table["source_record_id"])
        return pa.table(columns)

    def _spool(self, table: pa.Table) -> None:
        path = self.spool / f"{len(self.files):08d}.parquet"
        pq.write_table(table, path, row_group_size=SPOOL_BATCH_ROWS, compression="none")
        self.files.append(str(path))

    def finish(self) -> None:
        """Every chunk is in: ``delivered`` reads the spool back, in order."""
        if self.files:
            self.con.execute(
                f"CREATE VIEW spool AS SELECT * FROM read_parquet({literal(str(self.spool / '*.parquet'))})"
            )
        else:  # no row at all: the same columns, empty
            names = [SOURCE_ROW, *LANDING_COLUMNS]
            empty = pa.table({n: pa.array([], pa.int64() if n == SOURCE_ROW else pa.string()) for n in names})
            self.con.register("spool", self._spooled(empty, {c: pa.array([], pa.string()) for c in self.rewritten}))
        hashed = ", ".join(quoted(("raw:" if c in self.raw else "") + c) for c in CANONICAL_COLUMNS)
        self.con.execute(sql("delivered", hashed=hashed))

    def count(self, table: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {quoted(table)}").fetchall()[0][0])

    def close(self) -> None:
        self.con.close()
