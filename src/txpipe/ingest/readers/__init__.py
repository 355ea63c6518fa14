"""One reader per delivery format, all yielding the same shape.

A reader returns a :class:`Delivered`: the delivered header names (as written) and an
iterator of :class:`RawBatch` chunks. Every chunk is a DataFrame of strings (None for blank
cells) with the delivered headers as columns and the row's position in the file as index
(``source_row``: spreadsheet row, JSON Lines line, CSV record counting the header as 1).
Rows a reader could not turn into a record (a malformed JSON line, a CSV row with the wrong
number of fields) come back as :class:`RowIssue` so that they are quarantined, not lost.
A file that cannot be read at all raises :class:`UnreadableFile` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.settings import CHUNK_ROWS, ReadLimits

if TYPE_CHECKING:
    from txpipe.ingest.readers.lines import PhysicalCounts
    from txpipe.ingest.readers.xapi import StatementCounts, StatementSetup

# Rows per chunk: CHUNK_ROWS (settings, TXPIPE_CHUNK_ROWS). The CSV reader's chunks are Arrow
# columns (about 0.5 GB at peak through the pipeline for 400,000 rows); readers that build Python
# rows first (Excel, JSON, the exact CSV path) hold several times more per row, so they hand on
# at most this many.
ROW_BUILT_CHUNK_ROWS = 100_000

# The dtype of every delivered value: text in Arrow, missing as pd.NA.
STRING = pd.StringDtype("pyarrow")


class UnreadableFile(Exception):
    """The whole file is rejected; the message says why in words a programme office understands."""


@dataclass(frozen=True)
class RowIssue:
    source_row: int
    rule: str
    message: str


@dataclass
class RawBatch:
    frame: pd.DataFrame
    issues: list[RowIssue] = field(default_factory=list)


@dataclass
class Delivered:
    headers: list[str]
    batches: Iterator[RawBatch]
    statements: StatementCounts | None = None  # an xAPI export: its statement counts, once the batches are read
    # file-level warnings the reader counted while its batches were read (rule name -> count), added
    # to the ledger record's warnings: e.g. spreadsheet error cells read as blanks
    warnings: dict[str, int] = field(default_factory=dict)
    # what the bytes hold and how the reader attributed it (lines, elements, sheet rows), once the
    # batches are read; the pipeline checks it against the rows it counted
    physical: PhysicalCounts | None = None


@dataclass(frozen=True)
class ReadOptions:
    """What a reader needs from the source's config."""

    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    is_known_header: Callable[[str], bool] = lambda name: False
    chunk_rows: int = CHUNK_ROWS
    limits: ReadLimits = field(default_factory=ReadLimits)
    statements: StatementSetup | None = None  # how the source's xAPI statements become records

    @property
    def row_built_chunk_rows(self) -> int:
        """Chunk size for readers that build Python rows before the frame."""
        return min(self.chunk_rows, ROW_BUILT_CHUNK_ROWS)


class _End:
    """The type of ``_END``, which marks the end of the batches."""


_END = _End()


def read_ahead(batches: Iterator[RawBatch]) -> Iterator[RawBatch]:
    """The same batches, the next one read by a background thread while the caller works on this one
    (parsing runs in Arrow, outside the GIL). One batch is read ahead, no more."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as thread:
        upcoming = thread.submit(next, batches, _END)
        while not isinstance(batch := upcoming.result(), _End):
            upcoming = thread.submit(next, batches, _END)
            yield batch


def read_delivery(path: Path, options: ReadOptions) -> Delivered:
    """Pick the reader for the file's extension."""
    from txpipe.ingest.readers import csv, excel, json, xapi

    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise UnreadableFile("the file is empty (0 bytes)")
    if xapi.is_statement_file(path, options.statements):
        if options.statements is None:
            raise UnreadableFile("the file holds xAPI statements: they are read through a source (txpipe ingest)")
        return _nul_quarantined(xapi.read_statements(path, options, options.statements))
    readers = {
        ".csv": csv.read_csv,
        ".tsv": csv.read_csv,
        ".txt": csv.read_csv,
        ".xlsx": excel.read_xlsx,
        ".json": json.read_json,
        ".jsonl": json.read_json,
        ".ndjson": json.read_json,
    }
    if suffix in readers:  # each reader rejects a field longer than options.limits.field_chars
        return _nul_quarantined(readers[suffix](path, options))
    raise UnreadableFile(f"unsupported file type '{path.suffix or '(none)'}': deliver CSV, XLSX, JSON or JSON Lines")


def _nul_quarantined(delivered: Delivered) -> Delivered:
    """Every format's records with a NUL character in a value are quarantined (README "Delivering data")."""
    from txpipe.ingest.readers.text_rules import quarantine_nul

    delivered.batches = map(quarantine_nul, delivered.batches)
    return delivered


# A delivered header is shown in messages and reports only when it looks like a column name:
# a letter, then letters, digits, spaces and _ - . ( ) / # %, at most 40 characters and 4 digits.
# Anything else (an e-mail, a phone number, a date, a data row taken for a header) is named by
# its position and length only.
_NAME_LIKE = re.compile(r"^[^\W\d_][\w .()/#%-]{0,39}$")


def looks_like_a_name(header: str) -> bool:
    return bool(_NAME_LIKE.match(header)) and sum(ch.isdigit() for ch in header) <= 4 and "@" not in header


def field_too_long(position: int, limit: int) -> UnreadableFile:
    """The rejection of a file with a field longer than ``limit`` characters (TXPIPE_MAX_FIELD_CHARS)."""
    return UnreadableFile(
        f"a field in column {position} is longer than {limit:,} characters "
        "(TXPIPE_MAX_FIELD_CHARS): deliver shorter values"
    )


def check_field_lengths(columns: list[pa.ChunkedArray | pa.Array], limit: int) -> None:
    """Reject the file if a text column holds a field longer than ``limit`` characters (in Arrow)."""
    for position, column in enumerate(columns, start=1):
        longest = pc.max(pc.utf8_length(column)).as_py()
        if longest is not None and longest > limit:
            raise field_too_long(position, limit)


class BlankHeader(str):
    """A header cell left empty (R's write.csv leaves the first one so, above its row names): named
    ``(column N)`` by its position, as reports show it, and mapped by a source config's ``""`` key
    (:meth:`txpipe.ingest.sources.SourceConfig.canonical_name`), never by that name."""

    __slots__ = ()


def check_headers(headers: list[str]) -> list[str]:
    """Reject blank-only or duplicated header names; return them trimmed (an empty one as a :class:`BlankHeader`)."""
    cleaned = [("" if h is None else str(h)).strip() for h in headers]
    if any(len(name) > 1000 for name in cleaned):
        raise UnreadableFile("a header cell is longer than 1,000 characters: the first record is not a header row")
    if not any(cleaned):
        raise UnreadableFile("the header row is empty")
    seen: dict[str, int] = {}
    for position, name in enumerate(cleaned, start=1):
        if not name:
            continue
        key = name.casefold()
        if key in seen:
            shown = f"'{name}'" if looks_like_a_name(name) else f"({len(name)} characters)"
            raise UnreadableFile(
                f"duplicated column {shown} (columns {seen[key]} and {position}): each column may appear only once"
            )
        seen[key] = position
    # A blank header cell still holds a column; name it by position so it can be reported.
    return [name or BlankHeader(f"(column {position})") for position, name in enumerate(cleaned, start=1)]


def drop_blank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Fully blank rows are not records: they are skipped and not counted."""
    if frame.empty:
        return frame
    return frame[frame.notna().any(axis=1)]
