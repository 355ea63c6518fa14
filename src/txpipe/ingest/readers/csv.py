"""CSV reader: encoding check, delimiter sniffing, streaming Arrow parse with an exact fallback.

Fast path: pyarrow's streaming CSV reader (quoted delimiters and newlines, CRLF, UTF-8 BOM).
If a record has the wrong number of fields, the rest of the file from the current block on is
read with Python's csv module, which can tell exactly which record it was, so the bad record
is quarantined with its position and the good ones go on.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
    drop_blank_rows,
)

if TYPE_CHECKING:
    from _csv import Reader  # the type of csv.reader(...), which the csv module does not name

DELIMITERS = (",", ";", "\t", "|")
_SCAN_BYTES = 1 << 20


def check_text(path: Path, encoding: str | None) -> str:
    """Return the Python codec to read the file with, or reject it with the reason.

    Without a declared encoding the file must be UTF-8 (a BOM is allowed); the whole file is
    checked so the message can name the line of the first bad byte.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not encoding:
        raise UnreadableFile(
            'the file is UTF-16 encoded; deliver UTF-8 or declare `encoding = "utf-16"` in the source config'
        )
    if b"\x00" in head and not (encoding and "16" in encoding):
        line = head.count(b"\n", 0, head.index(b"\x00")) + 1
        raise UnreadableFile(f"the file is not text (a binary NUL byte on line {line})")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as error:
            raise UnreadableFile(f"the source config names an unknown encoding '{encoding}'") from error
        return encoding
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as handle:
        while chunk := handle.read(_SCAN_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                line += chunk.count(b"\n", 0, error.start)
                raise UnreadableFile(
                    f"the file is not valid UTF-8 (first bad byte 0x{chunk[error.start]:02x} on line "
                    f'{line}); deliver UTF-8 or declare the encoding (e.g. `encoding = "latin-1"`) '
                    "in the source config"
                ) from None
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UnreadableFile("the file is not valid UTF-8 (it ends inside a character)") from None
    return "utf-8-sig"


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter that occurs most often in the header line (outside quotes)."""
    outside_quotes = header_line.split('"')[::2]
    counts = {d: sum(part.count(d) for part in outside_quotes) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def _first_record(path: Path, codec: str, delimiter: str | None) -> tuple[list[str], str, int]:
    """The header, the delimiter, and the physical line the header ends on (blank lines before it skipped)."""
    with open(path, encoding=codec, newline="") as handle:
        head = handle.read(1 << 16)
    first = next((ln for ln in head.split("\n") if ln.strip()), "")
    if not first.strip():
        raise UnreadableFile("the file holds only blank lines")
    delimiter = delimiter or sniff_delimiter(first)
    reader = pycsv.reader(io.StringIO(head), delimiter=delimiter)
    try:
        header = next((row for row in reader if not _is_blank(row)), [])
    except pycsv.Error as error:
        raise UnreadableFile(f"the header row cannot be parsed: {error}") from None
    return header, delimiter, reader.line_num


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
    codec = check_text(path, options.encoding)
    raw_header, delimiter, header_lines = _first_record(path, codec, options.delimiter)
    headers = check_headers(raw_header)
    return Delivered(headers=headers, batches=_batches(path, codec, delimiter, headers, header_lines, options))


def _reject_row(_row: object) -> str:
    """Arrow's handler of a record it cannot place: stop (the exact path then finds and reports it)."""
    return "error"


def _open_arrow(path: Path, codec: str, delimiter: str, width: int, header_lines: int) -> pacsv.CSVStreamingReader:
    """Arrow's streaming reader of the records after the header, ``width`` text columns named c0, c1, ...

    Opening parses the first block already (so it can raise what reading raises)."""
    positional = [f"c{i}" for i in range(width)]
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=positional,
            skip_rows=header_lines,
            encoding="utf8" if codec == "utf-8-sig" else codec,
            block_size=4 << 20,
            # Arrow reads ahead a number of blocks: small blocks keep that bounded; chunks
            # of options.chunk_rows rows are assembled from them (see _batches).
        ),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=_reject_row),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in positional},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )


def _batches(
    path: Path, codec: str, delimiter: str, headers: list[str], header_lines: int, options: ReadOptions
) -> Iterator[RawBatch]:
    """Chunks of ``options.chunk_rows`` records through Arrow; from the first record Arrow cannot place
    on, the rest of the file through the exact path."""
    records_done = 0  # data records handed on so far; row 1 is the header
    try:
        reader = _open_arrow(path, codec, delimiter, len(headers), header_lines)
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for batch in _with_end(reader):
            if batch is not None:
                pending.append(batch)
                pending_rows += batch.num_rows
            while pending and (batch is None or pending_rows >= options.chunk_rows):
                # Columns stay chunked (one piece per block): no copy of the whole chunk is made.
                table = pa.Table.from_batches(pending)
                rest = table.slice(options.chunk_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
                frame = _frame(
                    table.slice(0, options.chunk_rows), headers, records_done + 2, options.limits.field_chars
                )
                records_done += len(frame)
                yield RawBatch(drop_blank_rows(frame))
    except pa.ArrowInvalid:
        # A record Arrow cannot place (wrong field count, runaway quote): read the rest exactly.
        # Arrow's message quotes the row, which may hold personal data, so it is not repeated.
        yield from _exact_batches(
            path, codec, delimiter, headers, records_done, options.row_built_chunk_rows, options.limits.field_chars
        )


def _exact_batches(
    path: Path, codec: str, delimiter: str, headers: list[str], skip: int, chunk_rows: int, field_chars: int
) -> Iterator[RawBatch]:
    """Slow, exact path: Python's csv module from record ``skip`` on."""
    width = len(headers)
    pycsv.field_size_limit(field_chars)  # a longer field ends the file as a rejection (see _rows)
    with open(path, encoding=codec, newline="") as handle:
        reader = pycsv.reader(handle, delimiter=delimiter, strict=False)
        next((row for row in reader if not _is_blank(row)), None)  # the header
        record = 0
        rows: list[list[str | None]] = []
        index: list[int] = []
        issues: list[RowIssue] = []
        for row in _rows(reader):
            if _is_blank(row):
                continue  # blank line
            record += 1
            if record <= skip:
                continue
            source_row = record + 1
            if len(row) != width:
                issues.append(
                    RowIssue(
                        source_row,
                        "csv_field_count",
                        f"expected {width} fields, found {len(row)} (line {reader.line_num})",
                    )
                )
            else:
                rows.append([cell.strip() or None for cell in row])
                index.append(source_row)
            if len(rows) + len(issues) >= chunk_rows:
                yield _exact_batch(rows, index, headers, issues)
                rows, index, issues = [], [], []
        if rows or issues:
            yield _exact_batch(rows, index, headers, issues)


def _rows(reader: Reader) -> Iterator[list[str]]:
    try:
        yield from reader
    except pycsv.Error as error:
        raise UnreadableFile(f"the CSV cannot be parsed at line {reader.line_num}: {error}") from None


def _exact_batch(
    rows: list[list[str | None]], index: list[int], headers: list[str], issues: list[RowIssue]
) -> RawBatch:
    frame = pd.DataFrame(rows, columns=headers, dtype="string")
    frame.index = pd.Index(index, name="source_row", dtype="int64")
    return RawBatch(drop_blank_rows(frame), issues)
