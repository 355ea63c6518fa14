"""The Parquet lake: valid rows by (programme, year), quarantined rows by source.

Every file is written under a temporary name and renamed into place, with one explicit Arrow
schema (``txpipe.schema``), so a reader never sees a half-written file and every file has
the same columns. Files are immutable: one per delivery and partition, named by batch_id.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA
from txpipe.store.atomic import replace_atomically, temporary_path

# Near-unique columns gain nothing from dictionary encoding; Arrow would try it and fall back per page.
_DICTIONARY = [
    name
    for name in PARTICIPATION_SCHEMA.names + QUARANTINE_SCHEMA.names
    if name not in ("source_record_id", "participant_pid", "source_row", "offending_values", "record")
]


# A delivery of fewer rows is written uncompressed: on a few rows zstd saves little space and costs
# about a millisecond per file (a thousand small deliveries write some 5,000 files).
COMPRESS_ROWS = 10_000


def write_atomic(table: pa.Table, path: Path) -> Path:
    """Write one Parquet file atomically (see txpipe.store.atomic)."""
    return replace_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def participation_path(lake: Path, programme: str, year: int, batch_id: str) -> Path:
    return lake / "participation" / f"programme={programme}" / f"year={year}" / f"{batch_id}.parquet"


def quarantine_path(lake: Path, source: str, batch_id: str) -> Path:
    return lake / "quarantine" / f"source={source}" / f"{batch_id}.parquet"


class DeliveryFiles:
    """A delivery's lake files, written chunk by chunk under temporary names, renamed on commit.

    One Parquet file per (programme, year) partition and one quarantine file, each grown by a
    row group per chunk, so memory stays bounded however large the delivery is. Chunks handed to
    :meth:`add` are encoded and compressed by one background thread (Arrow releases the GIL) while
    the caller prepares the next chunk; at most one chunk waits, so memory stays bounded.
    """

    def __init__(self, lake: Path, batch_id: str, source: str, rows: int = COMPRESS_ROWS) -> None:
        """``rows``: how many rows the delivery holds (below ``COMPRESS_ROWS``, its files are not compressed)."""
        self.lake, self.batch_id, self.source = lake, batch_id, source
        self.compressed = rows >= COMPRESS_ROWS
        self._writers: dict[Path, tuple[Path, pq.ParquetWriter]] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lake-{batch_id[:8]}")
        self._pending: Future[None] | None = None

    def add(self, participation: pa.Table, quarantine: pa.Table) -> None:
        """Queue one chunk's valid and quarantined rows (waits for the chunk before, and raises its error)."""
        self._wait()
        self._pending = self._thread.submit(self._write_chunk, participation, quarantine)

    def _write_chunk(self, participation: pa.Table, quarantine: pa.Table) -> None:
        self.add_participation(participation)
        self.add_quarantine(quarantine)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _writer(self, final: Path, schema: pa.Schema) -> pq.ParquetWriter:
        if final not in self._writers:
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = temporary_path(final)
            if self.compressed:
                writer = pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=_DICTIONARY)
            else:
                writer = pq.ParquetWriter(tmp, schema, compression="none", use_dictionary=False)
            self._writers[final] = (tmp, writer)
        return self._writers[final][1]

    def add_participation(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = table.cast(PARTICIPATION_SCHEMA)
        keyed = table.append_column("_year", pc.year(table["start_date"]))
        for part in keyed.group_by(["programme", "_year"]).aggregate([]).to_pylist():
            mask = pc.and_(pc.equal(keyed["programme"], part["programme"]), pc.equal(keyed["_year"], part["_year"]))
            path = participation_path(self.lake, part["programme"], part["_year"], self.batch_id)
            self._writer(path, PARTICIPATION_SCHEMA).write_table(keyed.filter(mask).drop_columns(["_year"]))

    def add_quarantine(self, table: pa.Table) -> None:
        if table.num_rows:
            path = quarantine_path(self.lake, self.source, self.batch_id)
            self._writer(path, QUARANTINE_SCHEMA).write_table(table.cast(QUARANTINE_SCHEMA))

    def commit(self) -> list[Path]:
        """Close every file, make it durable (fsync), and rename it into place."""
        self._wait()
        self._thread.shutdown()
        for tmp, writer in self._writers.values():
            writer.close()
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        for final, (tmp, _) in self._writers.items():
            os.replace(tmp, final)
        written = sorted(self._writers)
        self._writers.clear()
        return written

    def abort(self) -> None:
        try:
            self._wait()
        except Exception:
            pass
        finally:
            self._thread.shutdown()
        for tmp, writer in self._writers.values():
            try:
                writer.close()
            finally:
                tmp.unlink(missing_ok=True)
        self._writers.clear()
