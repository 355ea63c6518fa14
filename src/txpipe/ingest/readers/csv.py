"""CSV reader: encoding check and line scan, the header, streaming Arrow parse with an exact fallback.

Fast path: pyarrow's streaming CSV reader (quoted delimiters and newlines, CRLF, UTF-8 BOM).
If a record has the wrong number of fields, the rest of the file from the current block on is
read with Python's csv module (csv_exact), which can tell exactly which record it was, so the bad
record is quarantined with its position and the good ones go on. Every physical line the scan
counted is attributed to the header, a blank or a record (lines.PhysicalCounts), or the file is
rejected; a file holding quotes has its records' lines counted by the exact path, whose strict
quoting finds a stray quote Arrow would read leniently.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from txpipe.ingest.readers import (
    STRING,
    Delivered,
    RawBatch,
    ReadOptions,
    check_field_lengths,
    check_headers,
)
from txpipe.ingest.readers.csv_exact import CsvFile, exact_batches, first_record
from txpipe.ingest.readers.lines import PhysicalCounts, TerminatedFile, scan_text, unaccounted


def check_text(path: Path, encoding: str | None) -> str:
    """The Python codec to read the file with, or reject it with the reason (see lines.scan_text)."""
    return scan_text(path, encoding).codec


def _with_end(reader: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch | None]:
    """The reader's batches, then None to flush the last chunk."""
    yield from reader
    yield None


def _trimmed(column: pa.Array) -> pa.Array:
    """Surrounding spaces dropped, and a cell left empty becomes null (in Arrow, not row by row)."""
    column = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)


def _frame(batch: pa.Table, names: list[str], first_row: int, field_chars: int) -> pd.DataFrame:
    columns = [_trimmed(batch.column(i)) for i in range(batch.num_columns)]
    check_field_lengths(columns, field_chars)
    frame = pd.DataFrame(
        {i: column.to_pandas(types_mapper={pa.string(): STRING}.get) for i, column in enumerate(columns)}
    )
    frame.columns = names
    frame.index = pd.RangeIndex(first_row, first_row + len(frame), name="source_row")
    return frame


def read_csv(path: Path, options: ReadOptions) -> Delivered:
    scan = scan_text(path, options.encoding)
    header = first_record(path, scan.codec, options.delimiter, options.limits)
    headers = check_headers(header.names)
    counts = PhysicalCounts("lines", read=scan.lines)
    file = CsvFile(path, scan, header, len(headers), options)
    return Delivered(headers=headers, batches=_batches(file, headers, counts), physical=counts)


def _skip_blank(row: pacsv.InvalidRow) -> str:
    """Arrow's handler of a record it cannot place: a line of spaces is a blank line (the scan counted it);
    anything else stops Arrow (the exact path then finds and reports it)."""
    return "skip" if not row.text.strip(" \t\r\n") else "error"


def _open_arrow(file: CsvFile, source: Path | TerminatedFile) -> pacsv.CSVStreamingReader:
    """Arrow's streaming reader of the records after the header, ``width`` text columns named c0, c1, ...

    Opening parses the first block already (so it can raise what reading raises)."""
    positional = [f"c{i}" for i in range(file.width)]
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(
            column_names=positional,
            skip_rows=file.header.lines,
            encoding=file.arrow_encoding,
            block_size=4 << 20,
            # Arrow reads ahead a number of blocks: small blocks keep that bounded; chunks
            # of options.chunk_rows rows are assembled from them (see _batches).
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=file.header.delimiter, newlines_in_values=True, invalid_row_handler=_skip_blank
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in positional},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


class _Misread(Exception):
    """Arrow cannot read this file: the exact path reads it."""


def _batches(file: CsvFile, headers: list[str], counts: PhysicalCounts) -> Iterator[RawBatch]:
    """Chunks of ``options.chunk_rows`` records through Arrow; from the first record Arrow cannot place
    on, the rest of the file through the exact path. Every line scanned is attributed to the header, a
    blank or a record, or the file is rejected (see lines.PhysicalCounts)."""
    tally = _ArrowTally(file, counts)
    try:
        if not file.arrow_can_read:
            raise _Misread
        yield from _arrow_batches(file, headers, tally)
    except (pa.ArrowInvalid, _Misread):
        # Arrow's message quotes the row, which may hold personal data, so it is not repeated.
        yield from exact_batches(file, headers, tally.records, counts)
        return
    tally.close()
    if not counts.balanced or file.scan.quoted:
        # Records spanning lines (quoted line breaks), a misread, or quotes Arrow reads leniently: the
        # exact path counts every record's lines (rejecting a quote left open or stray, or a record
        # spanning too many lines, with its line), and must find the records Arrow handed on.
        exact = PhysicalCounts("lines", read=file.scan.lines)
        for _ in exact_batches(file, headers, skip=sys.maxsize, counts=exact):
            pass
        if exact.records != counts.records:
            raise unaccounted(counts)
        vars(counts).update(vars(exact))


def _arrow_batches(file: CsvFile, headers: list[str], tally: _ArrowTally) -> Iterator[RawBatch]:
    chunk_rows = file.options.chunk_rows
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    source = file.source()
    try:
        reader = _open_arrow(file, source)
        for batch in _with_end(reader):
            if batch is not None:
                pending.append(batch)
                pending_rows += batch.num_rows
            while pending and (batch is None or pending_rows >= chunk_rows):
                # Columns stay chunked (one piece per block): no copy of the whole chunk is made.
                table = pa.Table.from_batches(pending)
                rest = table.slice(chunk_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
                chunk = table.slice(0, chunk_rows)
                frame = _frame(chunk, headers, tally.records + 2, file.options.limits.field_chars)
                yield RawBatch(tally.add(chunk, frame))
    finally:
        if isinstance(source, TerminatedFile):
            source.close()


@dataclass
class _ArrowTally:
    """What Arrow handed on: the records (numbered from 2: the header is record 1), of which those
    of empty fields (not rows: they only keep their number) and rows."""

    file: CsvFile
    counts: PhysicalCounts
    records: int = 0
    empty: int = 0
    last_spans_lines: bool = False  # the last record holds a line ending (may be a quote left open)

    def add(self, chunk: pa.Table, frame: pd.DataFrame) -> pd.DataFrame:
        last = chunk.slice(chunk.num_rows - 1).to_pylist()[0].values() if chunk.num_rows else ()
        self.last_spans_lines = any(value and ("\n" in value or "\r" in value) for value in last)
        filled = frame.notna().any(axis=1).to_numpy()
        self.counts.records += int(filled.sum())
        self.empty += len(frame) - int(filled.sum())
        self.records += len(frame)
        return frame[filled]

    def close(self) -> None:
        """The lines attributed if every record is one line (Arrow does not say where a record's lines
        are): when these do not add up to the lines scanned, the exact path counts them."""
        header = self.file.header
        self.counts.header = header.lines - header.leading_blank
        self.counts.blank = self.file.scan.blank + self.empty
        self.counts.rows = self.counts.records
        if self.last_spans_lines:  # a quote left open swallows the file's last line ending: count exactly
            self.counts.rows += 1
