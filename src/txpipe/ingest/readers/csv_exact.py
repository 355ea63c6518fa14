"""Python's csv module over a CSV delivery: the header record, and the exact path.

Python's reader says where every record starts and ends (the physical lines), so it reads the header
(under bounds, never a fixed buffer), counts every record's lines when Arrow cannot, and reads a file
whose records Arrow cannot place, exactly, quarantining a record with the wrong field count with its
lines. Quoting is strict: a quoted field never closed, or followed by other text after its closing
quote, rejects the file with the line its record starts on.
"""

from __future__ import annotations

import csv as pycsv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pandas as pd

from txpipe.ingest.readers import RawBatch, ReadOptions, RowIssue, UnreadableFile
from txpipe.ingest.readers.lines import LineScan, PhysicalCounts, TerminatedFile, unaccounted
from txpipe.settings import ReadLimits

if TYPE_CHECKING:
    from _csv import Reader  # the type of csv.reader(...), which the csv module does not name

DELIMITERS = (",", ";", "\t", "|")
# The header's physical line is read under a bound, never whole: as many columns as a spreadsheet holds
# (16,384), each a header cell of at most 1,000 characters (check_headers) and its delimiter.
HEADER_LINE_CHARS = 16_384 * 1_001


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that occurs most often in the header line (outside quotes)."""
    outside_quotes = header_line.split('"')[::2]
    counts = {d: sum(part.count(d) for part in outside_quotes) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def is_blank(row: list[str], lines: _Lines, start: int, end: int) -> bool:
    """A blank line (only spaces and tabs, as the line scan counts it), not a record."""
    return not row or (start == end and len(row) == 1 and not lines.last.strip(" \t\r\n"))


class _Lines:
    """A text file's physical lines for Python's csv module, each read under a bound (a longer line
    rejects the file); ``ended`` tells that the parser asked for a line past the end of the file."""

    def __init__(self, handle: TextIO, limit: int) -> None:
        self.handle, self.limit, self.ended, self.number = handle, limit, False, 0
        self.last = ""  # the last line read

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.handle.readline(self.limit + 1)
        if not line:
            self.ended = True
            raise StopIteration
        self.number += 1
        self.last = line
        if len(line) > self.limit:
            raise UnreadableFile(f"line {self.number} is longer than {self.limit:,} characters: it is not a CSV record")
        return line


@dataclass
class Header:
    names: list[str]
    delimiter: str
    lines: int  # physical lines up to the end of the header record (blank lines before it included)
    leading_blank: int  # of which blank lines before it


def first_record(path: Path, codec: str, delimiter: str | None, limits: ReadLimits) -> Header:
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
        reader = pycsv.reader(lines, delimiter=delimiter, strict=True)
        for row, start, end in _records(reader, lines):
            if not is_blank(row, lines, start, end):
                check_span(start, end, limits.record_lines)
                return Header(row, delimiter, end, start - 1)
    raise UnreadableFile("the file holds only blank lines")


def check_span(start: int, end: int, limit: int) -> None:
    """Reject the file if the record on lines start..end spans more lines than the limit."""
    if end - start + 1 > limit:
        raise UnreadableFile(
            f"the record starting on line {start} spans {end - start + 1:,} lines, more than "
            f"{limit:,} (TXPIPE_MAX_RECORD_LINES): is a quote left open?"
        )


@dataclass
class CsvFile:
    path: Path
    scan: LineScan
    header: Header
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


def exact_batches(file: CsvFile, headers: list[str], skip: int, counts: PhysicalCounts) -> Iterator[RawBatch]:
    """Slow, exact path: Python's csv module over the whole file, counting every record's lines; the
    records after the first ``skip`` are handed on (those before were, by Arrow)."""
    limits, width = file.options.limits, len(headers)
    pycsv.field_size_limit(limits.field_chars)  # a longer field ends the file as a rejection (see _rows)
    fresh = PhysicalCounts("lines", read=counts.read)
    with open(file.path, encoding=file.scan.codec, newline="") as handle:
        lines = _Lines(handle, width * (limits.field_chars + 3) + 2)
        reader = pycsv.reader(lines, delimiter=file.header.delimiter, strict=True)
        chunk = _ExactChunk(headers)
        record = 0
        for row, start, end in _records(reader, lines):
            check_span(start, end, limits.record_lines)
            span = end - start + 1
            blank = is_blank(row, lines, start, end)
            if blank or (record and len(row) == width and not any(cell.strip() for cell in row)):
                fresh.blank += span
                record += not blank  # a record of empty fields keeps its number
                continue
            if not record:
                fresh.header, record = span, 1
                continue
            record += 1
            fresh.rows, fresh.records = fresh.rows + span, fresh.records + 1
            if record - 1 > skip:
                chunk.add(row, record, start, end)
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


def _records(reader: Reader, lines: _Lines) -> Iterator[tuple[list[str], int, int]]:
    """Each record with the lines it starts and ends on. Quoting is strict: a quoted field must be
    closed, and only a delimiter or a line ending may follow its closing quote; anything else is a stray
    quote after which no record boundary can be trusted, so the file is rejected with the line."""
    end = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except pycsv.Error as error:
            raise _unparsable(error, end + 1, reader.line_num, lines.ended) from None
        start, end = end + 1, reader.line_num
        yield row, start, end


def _unparsable(error: pycsv.Error, start: int, line: int, ended: bool) -> UnreadableFile:
    if ended:
        return UnreadableFile(
            f"a quoted field of the record starting on line {start} is never closed (it reaches the end of "
            "the file): no record after it could be read"
        )
    if "expected after" in str(error):
        return UnreadableFile(
            f"a quoted field of the record starting on line {start} is closed on line {line} and followed by "
            "other text (a stray quote?): the records after it cannot be told apart"
        )
    if "field limit" in str(error):
        return UnreadableFile(
            f"a field of the record starting on line {start} is longer than the limit of characters "
            "(TXPIPE_MAX_FIELD_CHARS): deliver shorter values"
        )
    return UnreadableFile(f"the CSV cannot be parsed at line {line}: {error}")
