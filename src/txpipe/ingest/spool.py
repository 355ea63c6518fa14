"""A delivery's delivered values, kept on local disk between the census and the store pass.

The census must see the whole delivery before any chunk is stored (duplicates span chunks), so
each chunk is written here as it is read, once, as an uncompressed Arrow IPC file, and read back
memory-mapped for the second pass instead of parsing the delivered file again. Row issues
(records a reader could not place) travel with their chunk. Memory stays one chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from txpipe.ingest.readers import STRING, RowIssue

SOURCE_ROW = "source_row"


def frame_to_table(raw: pd.DataFrame) -> pa.Table:
    """Delivered values (string columns indexed by source_row) as an Arrow table with source_row first."""
    table = pa.Table.from_pandas(raw, preserve_index=False)
    return table.add_column(0, SOURCE_ROW, pa.array(raw.index.to_numpy(), pa.int64()))


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    frame = table.drop_columns([SOURCE_ROW]).to_pandas(types_mapper={pa.string(): STRING}.get)
    frame.index = pd.Index(table[SOURCE_ROW].to_numpy(), name=SOURCE_ROW, dtype="int64")
    return frame


class Spool:
    """Chunks written in order, read back in the same order."""

    def __init__(self, directory: Path, in_memory: bool = False) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.chunks = 0
        # A small delivery's chunks stay in memory: writing and mapping files costs more than they hold.
        self._held: list[tuple[pa.Table, list[RowIssue]]] | None = [] if in_memory else None

    def add(self, table: pa.Table, issues: list[RowIssue]) -> None:
        if self._held is not None:
            self._held.append((table, issues))
            self.chunks += 1
            return
        base = self.directory / f"{self.chunks:06d}"
        with pa.OSFile(f"{base}.arrow", "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        base.with_suffix(".issues.json").write_text(
            json.dumps([[i.source_row, i.rule, i.message] for i in issues]), encoding="utf-8"
        )
        self.chunks += 1

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, list[RowIssue]]]:
        if self._held is not None:
            held, self._held = self._held, []
            for table, issues in held:
                yield table_to_frame(table), issues
            return
        for number in range(self.chunks):
            base = self.directory / f"{number:06d}"
            # Not closed here: the frame's columns point into the mapping, which is released with them.
            frame = table_to_frame(pa.ipc.open_file(pa.memory_map(f"{base}.arrow")).read_all())
            issues = [RowIssue(*item) for item in json.loads(base.with_suffix(".issues.json").read_text("utf-8"))]
            Path(f"{base}.arrow").unlink()  # read once: the disk space is freed when the mapping goes
            yield frame, issues
