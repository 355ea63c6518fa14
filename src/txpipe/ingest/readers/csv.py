"""CSV reader: encoding check, delimiter sniffing, streaming Arrow parse with an exact fallback.

Fast path: pyarrow's streaming CSV reader (quoted delimiters and newlines, CRLF, UTF-8 BOM).
If a record has the wrong number of fields, the rest of the file from the current block on is
read with Python's csv module, which can tell exactly which record it was, so the bad record
is quarantined with its position and the good ones go on.
"""

from __future__ import annotations

import csv as pycsv
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from txpipe.ingest.readers import (
    STRING,
    Delivered,
    RawBatch,
    ReadOptions,
    RowIssue,
    UnreadableFile,
    check_field_lengths,
    check_headers,
)
from txpipe.ingest.readers.lines import (
    LineScan,
    PhysicalCounts,
    TerminatedFile,
    scan_text,
    unaccounted,
)
from txpipe.settings import ReadLimits

if TYPE_CHECKING:
    from _csv import Reader  # the type of csv.reader(...), which the csv module does not name

DELIMITERS = (",", ";", "\t", "|")
# The header's physical line is read under a bound, never whole: as many columns as a spreadsheet holds
# (16,384), each a header cell of at most 1,000 characters (check_headers) and its delimiter.
HEADER_LINE_CHARS = 16_384 * 1_001


def check_text(path: Path, encoding: str | None) -> str:
    """The Python codec to read the file with, or reject it with the reason (see lines.scan_text)."""
    return scan_text(path, encoding).codec


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that occurs most often in the header line (outside quotes)."""
    outside_quotes = header_line.split('"')[::2]
    counts = {d: sum(part.count(d) for part in outside_quotes) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


class _Lines:
    """A text file's physical lines for Python's csv module, each read under a bound (a longer line
    rejects the file); ``ended`` tells that the parser asked for a line past the end of the file."""

    def __init__(self, handle: TextIO, limit: int) -> None:
        self.handle, self.limit, self.ended, self.number = handle, limit, False, 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.handle.readline(self.limit + 1)
        if not line:
            self.ended = True
            raise StopIteration
        self.number += 1
        if len(line) > self.limit:
            raise UnreadableFile(f"line {self.number} is longer than {self.limit:,} characters: it is not a CSV record")
        return line


@dataclass
class _Header:
    names: list[str]
    delimiter: str
    lines: int  # physical lines up to the end of the header record (blank lines before it included)
    leading_blank: int  # of which blank lines before it


def _first_record(path: Path, codec: str, delimiter: str | None, limits: ReadLimits) -> _Header:
    """The header record, read from the file under the limits of a record (never a fixed buffer)."""
    with open(path, encoding=codec, newline="") as handle:
        lines = _Lines(handle, HEADER_LINE_CHARS)
        first = next((line for line in lines if line.strip()), "")
    if not first:
        raise UnreadableFile("the file holds only blank lines")
    delimiter = delimiter or sniff_delimiter(first)
    pycsv.field_size_limit(limits.field_chars)
    with open(path, encoding=codec, newline="") as handle:
        lines = _Lines(handle, HEADER_LINE_CHARS)
        reader = pycsv.reader(lines, delimiter=delimiter, strict=False)
        blank = 0
        for row in _rows(reader):
            if not _is_blank(row):
                _check_record(lines, blank + 1, reader.line_num, limits.record_lines)
                return _Header(row, delimiter, reader.line_num, blank)
            blank = reader.line_num
    raise UnreadableFile("the file holds only blank lines")


def _check_record(lines: _Lines, start: int, end: int, limit: int) -> None:
    """Reject the file if the record on lines start..end is a quote never closed or spans too many lines."""
    if lines.ended:
        raise UnreadableFile(
            f"a quoted field of the record starting on line {start} is never closed (it reaches the end of "
            "the file): no record after it could be read"
        )
    if end - start + 1 > limit:
        raise UnreadableFile(
            f"the record starting on line {start} spans {end - start + 1:,} lines, more than "
            f"{limit:,} (TXPIPE_MAX_RECORD_LINES): is a quote left open?"
        )


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
    header = _first_record(path, scan.codec, options.delimiter, options.limits)
    headers = check_headers(header.names)
    counts = PhysicalCounts("lines", read=scan.lines)
    file = _CsvFile(path, scan, header, len(headers), options)
    return Delivered(headers=headers, batches=_batches(file, headers, counts), physical=counts)


@dataclass
class _CsvFile:
    path: Path
    scan: LineScan
    header: _Header
    width: int
    options: ReadOptions

    @property
    def arrow_encoding(self) -> str:
        return "utf8" if self.scan.codec == "utf-8-sig" else self.scan.codec

    def source(self) -> Path | TerminatedFile:
        """The bytes Arrow reads: a last line without its ending gets one (see TerminatedFile)."""
        return self.path if self.scan.terminated else TerminatedFile(self.path)

    @property
    def arrow_can_read(self) -> bool:
        """Arrow reads the file unless an added line ending would not be one in its encoding (UTF-16)."""
        return self.scan.terminated or self.scan.codec == "utf-8-sig" or "\n".encode(self.scan.codec) == b"\n"


def _skip_blank(row: pacsv.InvalidRow) -> str:
    """Arrow's handler of a record it cannot place: a line of spaces is a blank line (the scan counted it);
    anything else stops Arrow (the exact path then finds and reports it)."""
    return "skip" if not row.text.strip(" \t\r\n\ufeff") else "error"


def _open_arrow(file: _CsvFile, source: Path | TerminatedFile) -> pacsv.CSVStreamingReader:
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


def _batches(file: _CsvFile, headers: list[str], counts: PhysicalCounts) -> Iterator[RawBatch]:
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
        yield from _exact_batches(file, headers, tally.records, counts)
        return
    tally.close()
    if not counts.balanced:
        # Records spanning lines (quoted line breaks), or a misread: the exact path counts every record's
        # lines (rejecting a quote left open, or a record spanning too many, with its line), and must find
        # the records Arrow handed on.
        exact = PhysicalCounts("lines", read=file.scan.lines)
        for _ in _exact_batches(file, headers, skip=sys.maxsize, counts=exact):
            pass
        if exact.records != counts.records:
            raise unaccounted(counts)
        vars(counts).update(vars(exact))


def _arrow_batches(file: _CsvFile, headers: list[str], tally: _ArrowTally) -> Iterator[RawBatch]:
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

    file: _CsvFile
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


def _exact_batches(file: _CsvFile, headers: list[str], skip: int, counts: PhysicalCounts) -> Iterator[RawBatch]:
    """Slow, exact path: Python's csv module over the whole file, counting every record's lines; the
    records after the first ``skip`` are handed on (those before were, by Arrow)."""
    limits, width = file.options.limits, len(headers)
    pycsv.field_size_limit(limits.field_chars)  # a longer field ends the file as a rejection (see _rows)
    fresh = PhysicalCounts("lines", read=counts.read)
    with open(file.path, encoding=file.scan.codec, newline="") as handle:
        lines = _Lines(handle, width * (limits.field_chars + 3) + 2)
        reader = pycsv.reader(lines, delimiter=file.header.delimiter, strict=False)
        chunk = _ExactChunk(headers)
        record, before = 0, 0
        for row in _rows(reader):
            start, before = before + 1, reader.line_num
            _check_record(lines, start, before, limits.record_lines)
            span = before - start + 1
            if _is_blank(row) or (record and len(row) == width and not any(cell.strip() for cell in row)):
                fresh.blank += span
                record += not _is_blank(row)  # a record of empty fields keeps its number
                continue
            if not record:
                fresh.header, record = span, 1
                continue
            record += 1
            fresh.rows, fresh.records = fresh.rows + span, fresh.records + 1
            if record - 1 > skip:
                chunk.add(row, record, start, before)
                if chunk.full(file.options.row_built_chunk_rows):
                    yield chunk.take()
        if chunk.rows or chunk.issues:
            yield chunk.take()
    vars(counts).update(vars(fresh))
    if not counts.balanced:
        raise unaccounted(counts)


class _ExactChunk:
    """Records of the exact path until a chunk is full: rows, and those with the wrong field count."""

    def __init__(self, headers: list[str]) -> None:
        self.headers = headers
        self.rows: list[list[str | None]] = []
        self.index: list[int] = []
        self.issues: list[RowIssue] = []

    def add(self, row: list[str], source_row: int, start: int, end: int) -> None:
        if len(row) != len(self.headers):
            where = f"line {start}" if start == end else f"lines {start}-{end}"
            message = f"expected {len(self.headers)} fields, found {len(row)} ({where})"
            self.issues.append(RowIssue(source_row, "csv_field_count", message))
        else:
            self.rows.append([cell.strip() or None for cell in row])
            self.index.append(source_row)

    def full(self, size: int) -> bool:
        return len(self.rows) + len(self.issues) >= size

    def take(self) -> RawBatch:
        frame = pd.DataFrame(self.rows, columns=self.headers, dtype="string")
        frame.index = pd.Index(self.index, name="source_row", dtype="int64")
        batch = RawBatch(frame, self.issues)
        self.rows, self.index, self.issues = [], [], []
        return batch


def _rows(reader: Reader) -> Iterator[list[str]]:
    try:
        yield from reader
    except pycsv.Error as error:
        raise UnreadableFile(f"the CSV cannot be parsed at line {reader.line_num}: {error}") from None
