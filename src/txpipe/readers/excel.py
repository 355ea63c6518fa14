"""XLSX reader: finds the header row below up to 10 banner rows, skips blank rows.

``source_row`` is the row number Excel shows. Formula cells give their cached value; the
first worksheet with a recognisable header is read unless the source config names a sheet.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from txpipe.readers import (
    Delivered,
    RawBatch,
    ReadOptions,
    UnreadableFile,
    check_headers,
    drop_blank_rows,
)

MAX_BANNER_ROWS = 10
MIN_KNOWN_HEADERS = 3


def cell_text(value: Any) -> str | None:
    """Render a cell as the text a CSV export would hold."""
    if value is None:
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


OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")


def _open(path: Path):
    with open(path, "rb") as handle:
        if handle.read(8) == OLE_SIGNATURE:
            raise UnreadableFile(
                "the workbook is password-protected (encrypted) or an old binary .xls: "
                "deliver an unprotected .xlsx"
            )
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as error:
        raise UnreadableFile(
            "not a readable XLSX workbook (it may be password-protected, an old .xls, "
            f"or another kind of file): {type(error).__name__}"
        ) from None


def _find_header(rows: list[tuple], options: ReadOptions) -> int | None:
    for position, row in enumerate(rows[: MAX_BANNER_ROWS + 1]):
        names = [cell_text(v) for v in row]
        known = sum(1 for n in names if n and options.is_known_header(n))
        if known >= MIN_KNOWN_HEADERS:
            return position
    return None


def read_xlsx(path: Path, options: ReadOptions) -> Delivered:
    workbook = _open(path)
    sheets = workbook.worksheets
    if options.sheet:
        sheets = [ws for ws in sheets if ws.title == options.sheet]
        if not sheets:
            raise UnreadableFile(f"the workbook has no sheet named '{options.sheet}'")
    for sheet in sheets:
        rows = sheet.iter_rows(values_only=True)
        head = [row for _, row in zip(range(MAX_BANNER_ROWS + 1), rows)]
        header_at = _find_header(head, options)
        if header_at is None:
            continue
        headers = check_headers([cell_text(v) or "" for v in head[header_at]])
        # Drop trailing unnamed columns that are entirely empty in the header row.
        while len(headers) > 1 and headers[-1].startswith("(column "):
            headers.pop()
        first_data_row = header_at + 2  # 1-based Excel row after the header
        pending = head[header_at + 1 :]
        return Delivered(headers, _batches(workbook, pending, rows, headers, first_data_row, options))
    workbook.close()
    raise UnreadableFile(
        f"no header row found in the first {MAX_BANNER_ROWS + 1} rows of any sheet "
        f"(looked for at least {MIN_KNOWN_HEADERS} known column names)"
    )


def _batches(workbook, pending, rows, headers, first_row, options) -> Iterator[RawBatch]:
    width = len(headers)
    buffer: list[list[str | None]] = []
    index: list[int] = []
    row_number = first_row
    try:
        for row in _chain(pending, rows):
            cells = [cell_text(v) for v in row[:width]]
            cells += [None] * (width - len(cells))
            buffer.append(cells)
            index.append(row_number)
            row_number += 1
            if len(buffer) >= options.row_built_chunk_rows:
                yield _batch(buffer, index, headers)
                buffer, index = [], []
        if buffer:
            yield _batch(buffer, index, headers)
    finally:
        workbook.close()


def _chain(first, rest):
    yield from first
    yield from rest


def _batch(buffer, index, headers) -> RawBatch:
    frame = pd.DataFrame(buffer, columns=headers, dtype="string")
    frame.index = pd.Index(index, name="source_row", dtype="int64")
    return RawBatch(drop_blank_rows(frame))
