"""A batch's working tables: one scratch DuckDB database per batch of deliveries, on local disk.

Every stage after the reader is SQL over these tables, so memory is bounded by DuckDB's limit
(it spills to the scratch folder beyond it), not by the size of the batch. Each row carries the
number of its delivery in the batch (``delivery``) beside its position in that delivery (``source_row``):

- ``delivered``: the delivered values under canonical names, participant_ref already replaced by
  its pseudonym, with each row's trimmed id and two hashes of its values (for the census);
- ``issues``: records the reader could not turn into rows (delivery, position, rule, message);
- ``duplicates``, ``conflicting_ids``, ``canonical``, ``judged``: written by the later stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from txpipe.ingest.iterations import DELIVERED
from txpipe.ingest.readers import RowIssue
from txpipe.ingest.values import CANONICAL_COLUMNS

SQL_DIR = Path(__file__).parent / "sql"
SOURCE_ROW = "source_row"
DELIVERY = "delivery"
# DuckDB's memory for one batch's working tables; beyond it, DuckDB spills to the scratch folder.
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


def frame_table(frame: pd.DataFrame) -> pa.Table:
    """A reader's chunk (string columns indexed by source_row) as an Arrow table with source_row first."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.add_column(0, SOURCE_ROW, pa.array(frame.index.to_numpy(), pa.int64()))


def issue_table(delivery: int, issues: list[RowIssue]) -> pa.Table:
    """Records the reader could not turn into rows, as the ``issues`` table holds them."""
    return pa.table(
        {
            DELIVERY: pa.array([delivery] * len(issues), pa.int32()),
            SOURCE_ROW: pa.array([i.source_row for i in issues], pa.int64()),
            "rule": pa.array([i.rule for i in issues], pa.string()),
            "message": pa.array([i.message for i in issues], pa.string()),
        }
    )


@dataclass(frozen=True)
class SourceColumns:
    """How one source's chunks become workspace rows: the columns its normaliser rewrites (canonical
    values given with the chunk), the columns it only fills with a default, and the parameters of
    its participant_pid (:meth:`txpipe.ingest.pseudonym.Pseudonymizer.sql_parameters`)."""

    rewritten: tuple[str, ...]
    defaults: dict[str, str]
    pid_parameters: dict[str, object]

    @property
    def kept_raw(self) -> tuple[str, ...]:
        """Columns whose delivered value can differ from the canonical one (both are kept)."""
        return (*self.rewritten, *self.defaults)


class Workspace:
    """The scratch database of one batch, and the spool of its chunks.

    A chunk arrives as delivered values under canonical names (participant_ref as delivered) with
    the canonical values of its rewritten columns (from the normalise stage). Its participant_pid is
    computed in SQL (``participant_pids.sql``, the keyed HMAC of :class:`txpipe.ingest.pseudonym.Pseudonymizer`),
    defaults are filled, and the chunk is spooled to local disk as an uncompressed Parquet file
    without its participant_ref: the raw ref reaches DuckDB only in memory, to be hashed, and is
    never written. Rows of several deliveries of a source are spooled together (one file per call of
    :meth:`add`). The spool, read back by DuckDB, is ``delivered``: delivery, source_row, every
    canonical column, ``raw:<column>`` for each column of ``raw`` (columns whose delivered value may
    differ from the canonical one in some delivery of the batch), iteration_id_delivered (from the
    normaliser), census_id, and hash_a/hash_b.
    """

    def __init__(self, folder: Path, raw: list[str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(
            ":memory:",
            config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(folder / "spill"), "threads": THREADS},
        )
        self.con.execute("SET TimeZone = 'UTC'")
        self.raw = [c for c in CANONICAL_COLUMNS if c in raw]
        self.con.execute(sql("create_issues"))
        self.con.execute(sql("create_kept_value"))
        self.spool = folder / "spool"
        self.spool.mkdir()
        self.files = 0
        self.dropped: set[int] = set()  # deliveries that could not be read to their end: never judged
        # per delivery and chunk as read, the last position the chunk holds (rows or unreadable records)
        self.bounds: dict[int, list[int]] = {}

    def note_chunk(self, delivery: int, table: pa.Table, issues: list[RowIssue]) -> None:
        """A chunk of a delivery as the reader gave it (delivered values with source_row, and the
        records beside it it could not place): its bounds, and its unreadable records as issues."""
        bounds = self.bounds.setdefault(delivery, [])
        last = max(
            [bounds[-1] if bounds else 0]
            + ([pc.max(table[SOURCE_ROW]).as_py()] if table.num_rows else [])
            + [i.source_row for i in issues]
        )
        bounds.append(last)
        if issues:
            self.con.register("chunk_issues", issue_table(delivery, issues))
            self.con.execute("INSERT INTO issues SELECT * FROM chunk_issues")
            self.con.unregister("chunk_issues")

    def add(self, table: pa.Table, canonical: dict[str, pa.Array], columns: SourceColumns) -> None:
        """Rows of one source's deliveries, spooled as one file: delivered values (source_row and
        delivery first, participant_ref as delivered) and the canonical values of the rewritten columns."""
        if table.num_rows:
            self._spool(self._spooled(table, canonical, columns))

    def drop(self, delivery: int) -> None:
        """Forget a delivery that could not be read to its end: its spooled rows and its issues."""
        self.dropped.add(delivery)
        self.bounds.pop(delivery, None)
        self.con.execute("DELETE FROM issues WHERE delivery = $delivery", {"delivery": delivery})

    def _pids(self, refs: pa.ChunkedArray, parameters: dict[str, object]) -> pa.ChunkedArray:
        # str.strip() of the ref, as the pid is defined (Arrow trims every character given, as strip does)
        trimmed = pc.utf8_trim(refs, characters=str(parameters["spaces"]))
        self.con.register("chunk_refs", pa.table({"participant_ref": trimmed}))
        bound = {k: v for k, v in parameters.items() if k != "spaces"}
        pids = self.con.sql(sql("participant_pids"), params=bound).to_arrow_table()["participant_pid"]
        self.con.unregister("chunk_refs")
        return pids

    def _spooled(self, table: pa.Table, canonical: dict[str, pa.Array], source: SourceColumns) -> pa.Table:
        out: dict[str, pa.Array | pa.ChunkedArray] = {SOURCE_ROW: table[SOURCE_ROW], DELIVERY: table[DELIVERY]}
        for column in CANONICAL_COLUMNS:
            if column == "participant_pid":
                out[column] = self._pids(table["participant_ref"], source.pid_parameters)
            elif column in source.rewritten:
                out[column] = canonical[column]
            elif column in source.defaults:
                out[column] = pc.coalesce(table[column], pa.scalar(source.defaults[column], pa.string()))
            else:
                out[column] = table[column]
            if column in self.raw:
                out[f"raw:{column}"] = table[column]
        out[DELIVERED] = canonical.get(DELIVERED, pa.nulls(table.num_rows, pa.string()))
        out["census_id"] = pc.utf8_trim_whitespace(table["source_record_id"])
        return pa.table(out)

    def _spool(self, table: pa.Table) -> None:
        path = self.spool / f"{self.files:08d}.parquet"
        pq.write_table(table, path, row_group_size=SPOOL_BATCH_ROWS, compression="none")
        self.files += 1

    def finish(self) -> None:
        """Every chunk is in: ``delivered`` reads the spool back, in order (each delivery's rows in
        the order read), without the rows of dropped deliveries."""
        if self.files:
            self.con.execute(
                f"CREATE VIEW spooled AS SELECT * FROM read_parquet({literal(str(self.spool / '*.parquet'))})"
            )
        else:  # no row at all: the same columns, empty
            self.con.register("spooled", self._empty_spool())
        dropped = ", ".join(str(int(d)) for d in sorted(self.dropped))
        keep = f"WHERE delivery NOT IN ({dropped})" if dropped else ""
        self.con.execute(f"CREATE VIEW spool AS SELECT * FROM spooled {keep}")
        hashed = ", ".join(quoted(("raw:" if c in self.raw else "") + c) for c in CANONICAL_COLUMNS)
        self.con.execute(sql("delivered", hashed=hashed))

    def _empty_spool(self) -> pa.Table:
        names = [
            *(n for c in CANONICAL_COLUMNS for n in (c, *([f"raw:{c}"] if c in self.raw else []))),
            DELIVERED,
            "census_id",
        ]
        return pa.table(
            {
                SOURCE_ROW: pa.array([], pa.int64()),
                DELIVERY: pa.array([], pa.int32()),
                **{name: pa.array([], pa.string()) for name in names},
            }
        )

    def count(self, table: str) -> dict[int, int]:
        """Rows of a table per delivery."""
        rows = self.con.execute(f"SELECT delivery, count(*) FROM {quoted(table)} GROUP BY delivery").fetchall()
        return {int(delivery): int(n) for delivery, n in rows}

    def close(self) -> None:
        self.con.close()
