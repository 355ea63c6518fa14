"""XLSX reader: finds the header row below up to 10 banner rows, skips blank rows.

``source_row`` is the row number Excel shows. Formula cells give their cached value; the
first visible worksheet with a recognisable header is read unless the source config names a sheet
(hidden and veryHidden sheets are read only when named; a workbook whose only sheets with a header
are hidden is rejected, saying so). An error cell (``#N/A``, ``#REF!``...) is read as blank and
counted in ``Delivered.warnings["spreadsheet_error_cell"]``; a row holding a NUL character (written
``_x0000_`` in the XML) is quarantined as ``nul_character``.

The workbook is read by the reader itself, streaming, with the standard library's zip and expat
(openpyxl gives only its date-format rules and date arithmetic). That keeps a hostile workbook
from costing more than the read limits allow (README "Limits"):

- before anything is decompressed, the zip's central directory is checked: the parts' total
  uncompressed size against ``xlsx_bytes`` and each part's expansion ratio against ``xlsx_ratio``
  (parts of at most ``RATIO_EXEMPT_BYTES`` are exempt); the bytes actually decompressed are
  counted again while reading, so a directory that lies cannot take more;
- the sheet is parsed as a stream of events, never as a tree: rows and cells are counted as they
  come (``sheet_rows``, ``sheet_cells``) and a cell's text is measured while it grows
  (``field_chars``); shared strings are held as one block of text with offsets;
- the real rows are read, never the sheet's ``<dimension>`` (which may understate them);
- everything hostile bytes can break (zip, CRC, XML, a missing part, a bad shared-string index, a
  number or date Excel cannot hold) ends as :class:`UnreadableFile` naming the part, cell or
  size, never a delivered value.

The work is split by layer: ``excel_archive`` (the zip under the limits, parts streamed through
expat), ``excel_workbook`` (sheets, shared strings, date styles), ``excel_sheet`` (a sheet's rows
and cell values); this module finds the header and hands the rows on as batches of text.

Every ``<row>`` element of the sheet read (lines.PhysicalCounts, unit ``sheet_rows``: rows a sheet's XML
leaves out, where row numbers jump, are not there to count) is the header row or a banner row above it
with a value, a blank row (no value in the header's columns: formatted empty cells, spaces, errors), or a
row handed on; if they do not add up to the elements the sheet counted, the file is rejected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from txpipe.ingest.readers import (
    BlankHeader,
    Delivered,
    RawBatch,
    ReadOptions,
    UnreadableFile,
    check_headers,
    drop_blank_rows,
    looks_like_a_name,
)
from txpipe.ingest.readers.excel_archive import RATIO_EXEMPT_BYTES as RATIO_EXEMPT_BYTES
from txpipe.ingest.readers.excel_archive import Archive
from txpipe.ingest.readers.excel_sheet import ERROR_CELL, CellValue, Sheet, SheetRow, SpreadsheetError
from txpipe.ingest.readers.excel_sheet import column_letter as column_letter
from txpipe.ingest.readers.excel_workbook import Workbook, open_workbook
from txpipe.ingest.readers.lines import PhysicalCounts, unaccounted

MAX_BANNER_ROWS = 10
MIN_KNOWN_HEADERS = 3
ERROR_CELL_WARNING = "spreadsheet_error_cell"  # Delivered.warnings: error cells read as blanks

# The archive under its name before the split (tests meter its reads directly).
_Archive = Archive


def cell_text(value: CellValue | None) -> str | None:
    """Render a cell as the text a CSV export would hold (an error cell is blank)."""
    if value is None or isinstance(value, SpreadsheetError):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _find_header(rows: list[tuple[CellValue | None, ...]], options: ReadOptions) -> int | None:
    for position, row in enumerate(rows):
        names = [cell_text(v) for v in row]
        known = sum(1 for n in names if n and options.is_known_header(n))
        if known >= MIN_KNOWN_HEADERS:
            return position
    return None


def read_xlsx(path: Path, options: ReadOptions) -> Delivered:
    workbook = open_workbook(path, options.limits)
    try:
        return _read_sheets(workbook, options)
    except BaseException:
        workbook.archive.close()
        raise


def _read_sheets(workbook: Workbook, options: ReadOptions) -> Delivered:
    sheets = workbook.sheets
    if options.sheet:  # a named sheet is read whether the workbook hides it or not
        sheets = [s for s in sheets if s[0] == options.sheet]
        if not sheets:
            raise UnreadableFile(f"the workbook has no sheet named '{options.sheet}'")
    for _title, part in sheets:
        if part in workbook.hidden and not options.sheet:
            continue
        found = _header_of(workbook, part, options)
        if found is not None:
            warnings: dict[str, int] = {}
            batches = _batches(workbook, found, options, warnings)
            return Delivered(found.headers, batches, warnings=warnings, physical=found.counts)
    hidden = [] if options.sheet else [(n, s) for n, s in enumerate(sheets, start=1) if s[1] in workbook.hidden]
    for number, (title, part) in hidden:
        found = _header_of(workbook, part, options)
        if found is not None:
            found.sheet.close()
            shown = f"'{title}'" if looks_like_a_name(title) else f"{number} of the workbook"
            raise UnreadableFile(
                f"the only sheets with a header row are hidden (sheet {shown}, the first of them): a hidden "
                'sheet is read only when the source config names it (sheet = "...")'
            )
    workbook.archive.close()
    raise UnreadableFile(
        f"no header row found in the first {MAX_BANNER_ROWS + 1} rows of any sheet "
        f"(looked for at least {MIN_KNOWN_HEADERS} known column names)"
    )


class _Opened(NamedTuple):
    """A sheet opened at its header row."""

    sheet: Sheet
    rows: Iterator[SheetRow]  # its rows still to come
    pending: list[SheetRow]  # the rows read after the header
    headers: list[str]
    counts: PhysicalCounts  # so far: the header row and the banner rows above it with text; those without, blank


def _header_of(workbook: Workbook, part: str, options: ReadOptions) -> _Opened | None:
    """The sheet opened at its header; None (the sheet closed) if its first rows hold no header."""
    sheet = Sheet(workbook, part, options.limits)
    rows = iter(sheet)
    head: list[SheetRow] = []
    pending: list[SheetRow] = []
    for number, values in rows:  # the rows within the first MAX_BANNER_ROWS + 1 of the sheet
        (head if number <= MAX_BANNER_ROWS + 1 else pending).append((number, values))
        if pending:
            break
    header_at = _find_header([values for _, values in head], options)
    if header_at is None:
        sheet.close()
        return None
    headers = check_headers([cell_text(v) or "" for v in head[header_at][1]])
    # Drop trailing unnamed columns that are entirely empty in the header row.
    while len(headers) > 1 and isinstance(headers[-1], BlankHeader):
        headers.pop()
    sheet.keep_columns = len(headers)
    banner = sum(1 for _, values in head[:header_at] if any(cell_text(v) for v in values))
    counts = PhysicalCounts("sheet_rows", header=banner + 1, blank=header_at - banner)
    return _Opened(sheet, rows, head[header_at + 1 :] + pending, headers, counts)


def _batches(workbook: Workbook, opened: _Opened, options: ReadOptions, warnings: dict[str, int]) -> Iterator[RawBatch]:
    """The rows after the header (``pending`` read already, then the rest) as batches of text;
    counts the error cells read as blanks into ``warnings`` and every <row> element into
    ``opened.counts`` (or rejects the file); closes the sheet and the archive when done, failed or
    abandoned."""
    sheet, rows, pending, headers, counts = opened
    width = len(headers)
    buffer: list[list[str | None]] = []
    index: list[int] = []
    errors = 0
    try:
        for row_number, row in _chain(pending, rows):
            kept = row[:width]
            errors += kept.count(ERROR_CELL)
            cells = [cell_text(v) for v in kept]
            cells += [None] * (width - len(cells))
            buffer.append(cells)
            index.append(row_number)
            if len(buffer) >= options.row_built_chunk_rows:
                _count(warnings, errors)
                yield _batch(buffer, index, headers, counts)
                buffer, index = [], []
        _count(warnings, errors)
        if buffer:
            yield _batch(buffer, index, headers, counts)
        counts.read, counts.blank = sheet.row_elements, counts.blank + sheet.empty_rows
        if not counts.balanced:
            raise unaccounted(counts)
    finally:
        sheet.close()
        workbook.archive.close()


def _count(warnings: dict[str, int], errors: int) -> None:
    if errors:
        warnings[ERROR_CELL_WARNING] = errors


def _chain(first: Iterable[SheetRow], rest: Iterable[SheetRow]) -> Iterator[SheetRow]:
    yield from first
    yield from rest


def _batch(buffer: list[list[str | None]], index: list[int], headers: list[str], counts: PhysicalCounts) -> RawBatch:
    """The rows as a frame of text, handed on; those with no value (counted here, apart from the frame)
    are blank rows."""
    counts.blank += sum(1 for cells in buffer if not any(cells))
    frame = pd.DataFrame(buffer, columns=headers, dtype="string")
    frame.index = pd.Index(index, name="source_row", dtype="int64")
    kept = drop_blank_rows(frame)
    counts.records = counts.rows = counts.rows + len(kept)
    return RawBatch(kept)
