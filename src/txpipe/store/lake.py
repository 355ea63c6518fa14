"""The Parquet lake: valid rows by (programme, year), quarantined rows by source.

Every file is written to its final key in the store (txpipe.store.objects), seen only once complete,
with one explicit Arrow schema (``txpipe.schema``), so a reader never sees a half-written file and
every file has the same columns. Files are immutable: one per delivery, partition and attempt, named
by batch_id and a part unique to the attempt, so that two workers ingesting one delivery never write
over each other's files (the ledger's create-only commit picks one; the other removes its own).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA
from txpipe.store.atomic import replace_atomically
from txpipe.store.objects import Store, Writer, unique_key

LAKE = "lake/"  # the lake's keys in the store; a record's ``files`` are relative to it

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


def participation_name(programme: str, year: int, batch_id: str) -> str:
    return unique_key(f"participation/programme={programme}/year={year}/{batch_id}.parquet")


def quarantine_name(source: str, batch_id: str) -> str:
    return unique_key(f"quarantine/source={source}/{batch_id}.parquet")


def remove_lake_files(store: Store, names: list[str]) -> None:
    """Remove a delivery's lake files (names as its record lists them) that no record may name."""
    store.delete(LAKE + name for name in names)


class DeliveryFiles:
    """A delivery's lake files, written chunk by chunk to their final keys, seen once committed.

    One Parquet file per (programme, year) partition and one quarantine file, each grown by a
    row group per chunk, so memory stays bounded however large the delivery is. Chunks handed to
    :meth:`add` are encoded and compressed by one background thread (Arrow releases the GIL) while
    the caller prepares the next chunk; at most one chunk waits, so memory stays bounded.
    """

    def __init__(self, store: Store, batch_id: str, source: str, rows: int = COMPRESS_ROWS) -> None:
        """``rows``: how many rows the delivery holds (below ``COMPRESS_ROWS``, its files are not compressed)."""
        self.store, self.batch_id, self.source = store, batch_id, source
        self.compressed = rows >= COMPRESS_ROWS
        self._writers: dict[tuple[str, ...], tuple[str, Writer, pq.ParquetWriter]] = {}
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

    def _writer(self, partition: tuple[str, ...], name: str, schema: pa.Schema) -> pq.ParquetWriter:
        if partition not in self._writers:
            sink = self.store.writer(LAKE + name)
            if self.compressed:
                writer = pq.ParquetWriter(sink.file, schema, compression="zstd", use_dictionary=_DICTIONARY)
            else:
                writer = pq.ParquetWriter(sink.file, schema, compression="none", use_dictionary=False)
            self._writers[partition] = (name, sink, writer)
        return self._writers[partition][2]

    def add_participation(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        table = table.cast(PARTICIPATION_SCHEMA)
        keyed = table.append_column("_year", pc.year(table["start_date"]))
        for part in keyed.group_by(["programme", "_year"]).aggregate([]).to_pylist():
            mask = pc.and_(pc.equal(keyed["programme"], part["programme"]), pc.equal(keyed["_year"], part["_year"]))
            partition = ("participation", part["programme"], str(part["_year"]))
            name = participation_name(part["programme"], part["_year"], self.batch_id)
            writer = self._writer(partition, name, PARTICIPATION_SCHEMA)
            writer.write_table(keyed.filter(mask).drop_columns(["_year"]))

    def add_quarantine(self, table: pa.Table) -> None:
        if table.num_rows:
            name = quarantine_name(self.source, self.batch_id)
            self._writer(("quarantine",), name, QUARANTINE_SCHEMA).write_table(table.cast(QUARANTINE_SCHEMA))

    def commit(self) -> list[str]:
        """Close every file and make it seen (durable, at its final key); return their names in the lake."""
        self._wait()
        self._thread.shutdown()
        for _, sink, writer in self._writers.values():
            writer.close()
            sink.commit()
        written = sorted(name for name, _, _ in self._writers.values())
        self._writers.clear()
        return written

    def abort(self) -> None:
        try:
            self._wait()
        except Exception:
            pass
        finally:
            self._thread.shutdown()
        for _, sink, writer in self._writers.values():
            try:
                writer.close()
            finally:
                sink.discard()
        self._writers.clear()
