"""XLSX reader: finds the header row below up to 10 banner rows, skips blank rows.

``source_row`` is the row number Excel shows. Formula cells give their cached value; the
first worksheet with a recognisable header is read unless the source config names a sheet.

The workbook is read by this module itself, streaming, with the standard library's zip and expat
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
"""

from __future__ import annotations

import datetime as dt
import math
import posixpath
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.parsers import expat

import pandas as pd
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601

from txpipe.ingest.readers import (
    Delivered,
    RawBatch,
    ReadOptions,
    UnreadableFile,
    check_headers,
    drop_blank_rows,
)
from txpipe.settings import ReadLimits

MAX_BANNER_ROWS = 10
MIN_KNOWN_HEADERS = 3

# Parts this small are exempt from the ratio limit: they cannot expand to anything that matters.
RATIO_EXEMPT_BYTES = 64 << 10
# Excel's own grid and format limits; a workbook beyond them was not written by a spreadsheet.
EXCEL_MAX_COLUMNS = 16_384  # XFD
EXCEL_MAX_CELL_FORMATS = 65_490
MAX_SHEETS = 10_000
MAX_NUMBER_CHARS = 100  # a number cell's text (Excel keeps 15 significant digits)
READ_BYTES = 64 << 10

OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")
NOT_A_WORKBOOK = "not a readable XLSX workbook (it may be password-protected, an old .xls, or another kind of file)"
REL_OFFICE_DOCUMENT = "/officeDocument"
REL_WORKSHEET = "/worksheet"
REL_SHARED_STRINGS = "/sharedStrings"
REL_STYLES = "/styles"
_SAFE_PART = re.compile(r"[A-Za-z0-9_.\[\]/-]{1,120}")
_CELL_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


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


def column_letter(column: int) -> str:
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _part_name(name: str) -> str:
    """A part's name for a reason: the name when it looks like one, never arbitrary text."""
    return f"'{name}'" if _SAFE_PART.fullmatch(name) else "a part with an unusual name"


# --- the archive ---------------------------------------------------------------------------------


class _Archive:
    """The workbook's zip, checked before reading and metered while reading."""

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.limits = limits
        self.decompressed = 0
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
            raise UnreadableFile(f"{NOT_A_WORKBOOK}: {type(error).__name__}") from None
        try:
            self._check_directory(infos)
        except UnreadableFile:
            self.zip.close()
            raise

    def _check_directory(self, infos: list[zipfile.ZipInfo]) -> None:
        limits = self.limits
        total = sum(info.file_size for info in infos)
        if total > limits.xlsx_bytes:
            raise UnreadableFile(
                f"the workbook's parts hold {total:,} bytes uncompressed, more than the limit of "
                f"{limits.xlsx_bytes:,} bytes (TXPIPE_MAX_XLSX_BYTES)"
            )
        for info in infos:
            if info.file_size <= RATIO_EXEMPT_BYTES:
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.xlsx_ratio:
                raise UnreadableFile(
                    f"the workbook's part {_part_name(info.filename)} expands {ratio:,.0f} times "
                    f"({info.compress_size:,} bytes to {info.file_size:,}), more than the limit of "
                    f"{limits.xlsx_ratio:,} (TXPIPE_MAX_XLSX_RATIO): it looks like a zip bomb"
                )

    def has(self, name: str) -> bool:
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            return False
        return not info.is_dir()

    def chunks(self, name: str) -> Iterator[bytes]:
        """The part's bytes, decompressed in chunks; the total across the archive is capped."""
        if not self.has(name):
            raise UnreadableFile(f"the workbook's part {_part_name(name)} is missing")
        try:
            with self.zip.open(name) as stream:
                while chunk := stream.read(READ_BYTES):
                    self.decompressed += len(chunk)
                    if self.decompressed > self.limits.xlsx_bytes:
                        raise UnreadableFile(
                            f"reading the workbook decompressed more than the limit of "
                            f"{self.limits.xlsx_bytes:,} bytes (TXPIPE_MAX_XLSX_BYTES), more than "
                            "its zip directory declares"
                        )
                    yield chunk
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ) as error:
            # CRC and header mismatches, truncated or corrupt data, unsupported compression,
            # encrypted members: the part cannot be decompressed.
            kind = "a CRC mismatch" if "CRC" in str(error) else type(error).__name__
            raise UnreadableFile(f"the workbook's part {_part_name(name)} cannot be decompressed ({kind})") from None

    def close(self) -> None:
        self.zip.close()


def _local(name: str) -> str:
    return name[name.rfind("}") + 1 :]


def _attrs(attributes: dict[str, str]) -> dict[str, str]:
    return {_local(k): v for k, v in attributes.items()}


def _no_dtd(*_args) -> None:
    raise UnreadableFile("the workbook's XML declares a DTD, which a workbook never does")


def _parse(archive: _Archive, name: str, start, end=None, chars=None) -> Iterator[None]:
    """Feed a part to expat chunk by chunk; yields after each chunk so a caller can hand on rows."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if chars is not None:
        parser.CharacterDataHandler = chars
    try:
        for chunk in archive.chunks(name):
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise UnreadableFile(
            f"the workbook's part {_part_name(name)} is not well-formed XML "
            f"({expat.ErrorString(error.code)} at line {error.lineno}, column {error.offset})"
        ) from None
    yield


def _run(parsing: Iterator[None]) -> None:
    for _ in parsing:
        pass


def _relationships(archive: _Archive, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (type, target part name)."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    found: dict[str, tuple[str, str]] = {}
    if not archive.has(rels_name):
        return found

    def start(name, attributes):
        if _local(name) == "Relationship":
            if len(found) >= MAX_SHEETS * 2:
                raise UnreadableFile("the workbook lists more relationships than a workbook holds")
            a = _attrs(attributes)
            if a.get("TargetMode") == "External":
                return
            target = a.get("Target", "")
            resolved = (
                target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            )
            found[a.get("Id", "")] = (a.get("Type", ""), resolved)

    _run(_parse(archive, rels_name, start))
    return found


class _Workbook:
    """Where the sheets are, the shared strings, which styles are dates, and the date epoch."""

    def __init__(self, archive: _Archive) -> None:
        self.archive = archive
        root = _relationships(archive, "")
        office = [target for kind, target in root.values() if kind.endswith(REL_OFFICE_DOCUMENT)]
        book = office[0] if office else "xl/workbook.xml"
        if not archive.has(book):
            raise UnreadableFile(f"{NOT_A_WORKBOOK}: it holds no workbook part")
        rels = _relationships(archive, book)
        self.epoch = CALENDAR_WINDOWS_1900
        self.sheets: list[tuple[str, str]] = []  # (title, part)
        listed: list[tuple[str, str]] = []

        def start(name, attributes):
            tag = _local(name)
            if tag == "sheet":
                if len(listed) >= MAX_SHEETS:
                    raise UnreadableFile(f"the workbook lists more than {MAX_SHEETS:,} sheets")
                a = _attrs(attributes)
                listed.append((a.get("name", ""), a.get("id", "")))
            elif tag == "workbookPr":
                if _attrs(attributes).get("date1904", "").lower() in ("1", "true"):
                    self.epoch = CALENDAR_MAC_1904

        _run(_parse(archive, book, start))
        for title, rel_id in listed:
            kind, target = rels.get(rel_id, ("", ""))
            if kind.endswith(REL_WORKSHEET):  # chartsheets and dialog sheets hold no rows
                self.sheets.append((title, target))
        by_kind = {kind.rsplit("/", 1)[-1]: target for kind, target in rels.values()}
        styles = by_kind.get(REL_STYLES[1:])
        self.date_styles, self.timedelta_styles = (
            _date_styles(archive, styles) if styles and archive.has(styles) else (set(), set())
        )
        strings = by_kind.get(REL_SHARED_STRINGS[1:])
        self.strings = _SharedStrings(archive, strings) if strings and archive.has(strings) else _SharedStrings.empty()


def _date_styles(archive: _Archive, part: str) -> tuple[set[int], set[int]]:
    """Indexes of the cell formats (cellXfs) that show dates, and those that show durations."""
    custom: dict[int, str] = {}
    format_ids: list[int] = []
    state = {"in_xfs": False}

    def start(name, attributes):
        tag = _local(name)
        if tag == "numFmt":
            a = _attrs(attributes)
            if len(custom) < EXCEL_MAX_CELL_FORMATS and a.get("numFmtId", "").isdigit():
                custom[int(a["numFmtId"][:9])] = a.get("formatCode", "")[:255]
        elif tag == "cellXfs":
            state["in_xfs"] = True
        elif tag == "xf" and state["in_xfs"]:
            if len(format_ids) >= EXCEL_MAX_CELL_FORMATS:
                raise UnreadableFile(
                    f"the workbook's styles hold more than {EXCEL_MAX_CELL_FORMATS:,} cell formats, "
                    "more than Excel allows"
                )
            value = _attrs(attributes).get("numFmtId", "0")
            format_ids.append(int(value[:9]) if value.isdigit() else 0)

    def end(name):
        if _local(name) == "cellXfs":
            state["in_xfs"] = False

    _run(_parse(archive, part, start, end))
    dates, durations = set(), set()
    for index, format_id in enumerate(format_ids):
        code = custom.get(format_id, BUILTIN_FORMATS.get(format_id))
        if is_date_format(code):
            dates.add(index)
        if is_timedelta_format(code):
            durations.add(index)
    return dates, durations


class _SharedStrings:
    """The shared-string table, held compactly: blocks of joined text and an offset per string."""

    BLOCK = 4096

    def __init__(self, archive: _Archive | None, part: str | None) -> None:
        self.blocks: list[str] = []
        self.ends = array("q")  # end offset of string i within its block
        if archive is None:
            return
        limit = archive.limits.field_chars
        pending: list[str] = []
        piece: list[str] = []
        state = {"si": False, "t": False, "rph": 0, "length": 0, "position": 0}

        def start(name, attributes):
            tag = _local(name)
            if tag == "si":
                state["si"], state["length"] = True, 0
                piece.clear()
            elif tag == "rPh":
                state["rph"] += 1
            elif tag == "t" and state["si"] and not state["rph"]:
                state["t"] = True

        def chars(data):
            if state["t"]:
                state["length"] += len(data)
                if state["length"] > limit:
                    raise UnreadableFile(
                        f"shared string {len(self) + len(pending) + 1:,} of the workbook is longer than "
                        f"the limit of {limit:,} characters (TXPIPE_MAX_FIELD_CHARS)"
                    )
                piece.append(data)

        def end(name):
            tag = _local(name)
            if tag == "t":
                state["t"] = False
            elif tag == "rPh":
                state["rph"] -= 1
            elif tag == "si" and state["si"]:
                state["si"] = False
                pending.append("".join(piece).replace("x005F_", ""))
                if len(pending) == self.BLOCK:
                    self._add_block(pending)

        _run(_parse(archive, part, start, end, chars))
        if pending:
            self._add_block(pending)

    @classmethod
    def empty(cls) -> _SharedStrings:
        return cls(None, None)

    def _add_block(self, strings: list[str]) -> None:
        offset = 0
        for text in strings:
            offset += len(text)
            self.ends.append(offset)
        self.blocks.append("".join(strings))
        strings.clear()

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index: int) -> str:
        block, position = divmod(index, self.BLOCK)
        start = self.ends[index - 1] if position else 0
        return self.blocks[block][start : self.ends[index]]


# --- the sheet -----------------------------------------------------------------------------------


class _Sheet:
    """Streams one worksheet as (Excel row number, values) for rows holding any value.

    Only the first ``keep_columns`` columns are kept (all of Excel's until the header is known).
    """

    def __init__(self, workbook: _Workbook, part: str, limits: ReadLimits) -> None:
        self.workbook, self.part, self.limits = workbook, part, limits
        self.keep_columns = EXCEL_MAX_COLUMNS
        self.cells = 0
        self.row_number = 0
        self.column = 0
        self.done: list[tuple[int, tuple]] = []
        self.row: dict[int, Any] | None = None
        self.cell: dict[str, Any] | None = None
        self.text: list[str] = []
        self.length = 0
        self.capture = False
        self.rph = 0
        self.parsing = _parse(workbook.archive, part, self._start, self._end, self._chars)

    def __iter__(self) -> Iterator[tuple[int, tuple]]:
        for _ in self.parsing:
            if self.done:
                done, self.done = self.done, []
                yield from done

    def close(self) -> None:
        self.parsing.close()

    # expat handlers

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "c" and self.row is not None:
            self._start_cell(attributes)
        elif self.cell is not None:
            if tag == "v":
                self._begin_text()
            elif tag == "is":
                self.cell["inline"] = True
            elif tag == "rPh":
                self.rph += 1
            elif tag == "t" and self.cell.get("inline") and not self.rph:
                self.capture = True
        elif tag == "row":
            self._start_row(attributes)

    def _begin_text(self) -> None:
        self.capture = True
        self.cell["has_value"] = True

    def _chars(self, data: str) -> None:
        if self.capture:
            self.length += len(data)
            if self.length > self.limits.field_chars:
                raise UnreadableFile(
                    f"cell {self._ref()} is longer than the limit of {self.limits.field_chars:,} "
                    "characters (TXPIPE_MAX_FIELD_CHARS)"
                )
            self.text.append(data)

    def _end(self, name: str) -> None:
        tag = _local(name)
        if tag in ("v", "t"):
            self.capture = False
        elif tag == "rPh" and self.cell is not None:
            self.rph -= 1
        elif tag == "c" and self.cell is not None:
            self._end_cell()
        elif tag == "row" and self.row is not None:
            self._end_row()

    def _start_row(self, attributes) -> None:
        number = attributes.get("r")
        if number is None:
            number = self.row_number + 1
        elif number.isdigit() and len(number) <= 9:
            number = int(number)
        else:
            raise UnreadableFile(f"the sheet has a row with a malformed row number after row {self.row_number:,}")
        if number <= self.row_number:
            raise UnreadableFile(
                f"the sheet's rows are out of order (row {number:,} comes after row {self.row_number:,})"
            )
        if number > self.limits.sheet_rows:
            raise UnreadableFile(
                f"the sheet has more than {self.limits.sheet_rows:,} rows, the limit "
                f"(TXPIPE_MAX_SHEET_ROWS; it reaches row {number:,})"
            )
        self.row_number, self.row, self.column = number, {}, 0

    def _start_cell(self, attributes) -> None:
        self.cells += 1
        if self.cells > self.limits.sheet_cells:
            raise UnreadableFile(
                f"the sheet has more than {self.limits.sheet_cells:,} cells, the limit "
                f"(TXPIPE_MAX_SHEET_CELLS; reached in row {self.row_number:,})"
            )
        ref = attributes.get("r")
        if ref is None:
            column = self.column + 1
        else:
            match = _CELL_REF.fullmatch(ref)
            if not match:
                raise UnreadableFile(
                    f"the sheet has a malformed cell reference in row {self.row_number:,} "
                    f"(after column {column_letter(self.column) or 'none'})"
                )
            column = 0
            for letter in match.group(1).upper():
                column = column * 26 + ord(letter) - 64
        if column > EXCEL_MAX_COLUMNS:
            raise UnreadableFile(f"the sheet has a cell beyond Excel's last column XFD in row {self.row_number:,}")
        if column <= self.column:
            raise UnreadableFile(
                f"the sheet's cells are out of order in row {self.row_number:,} "
                f"(column {column_letter(column)} comes after column {column_letter(self.column)})"
            )
        self.column = column
        style = attributes.get("s", "0")
        self.cell = {"t": attributes.get("t", "n"), "s": int(style) if style.isdigit() and len(style) < 10 else -1}
        self.text.clear()
        self.length = 0
        self.rph = 0

    def _end_cell(self) -> None:
        cell, self.cell = self.cell, None
        self.capture = False
        if self.column > self.keep_columns:
            return
        value = self._value(cell, "".join(self.text))
        self.text.clear()
        if value is not None:
            self.row[self.column] = value

    def _end_row(self) -> None:
        row, self.row = self.row, None
        if row:
            values = [None] * max(row)
            for column, value in row.items():
                values[column - 1] = value
            self.done.append((self.row_number, tuple(values)))

    def _ref(self) -> str:
        return f"{column_letter(self.column)}{self.row_number}"

    def _value(self, cell: dict[str, Any], text: str) -> Any:
        kind = cell["t"]
        if kind == "inlineStr":
            return text if cell.get("inline") else None
        if not cell.get("has_value") or text == "":
            return None
        if kind == "s":
            strings = self.workbook.strings
            if not (text.isdigit() and len(text) <= 10 and int(text) < len(strings)):
                raise UnreadableFile(
                    f"cell {self._ref()} refers to a shared string the workbook does not hold "
                    f"(it holds {len(strings):,})"
                )
            return strings[int(text)]
        if kind in ("str", "e"):
            return text
        if kind == "b":
            if text.strip() not in ("0", "1"):
                raise UnreadableFile(f"cell {self._ref()} is a true/false cell holding something else")
            return text.strip() == "1"
        if kind == "d":
            try:
                value = from_ISO8601(text.strip()) if len(text) <= MAX_NUMBER_CHARS else None
            except (ValueError, OverflowError, TypeError):
                value = None
            if value is None:
                raise UnreadableFile(f"cell {self._ref()} is a date cell holding no readable date")
            return value
        if kind != "n":
            raise UnreadableFile(f"cell {self._ref()} has a cell type a workbook does not use")
        return self._number(cell, text.strip())

    def _number(self, cell: dict[str, Any], text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(text):
            raise UnreadableFile(
                f"cell {self._ref()} is a number cell holding {len(text):,} characters that are not "
                f"a number Excel can hold (at most {MAX_NUMBER_CHARS} characters)"
            )
        value: float | int = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise UnreadableFile(f"cell {self._ref()} is a number cell beyond the range Excel can hold")
        style = cell["s"]
        if style in self.workbook.date_styles:
            try:
                return from_excel(value, self.workbook.epoch, timedelta=style in self.workbook.timedelta_styles)
            except (OverflowError, ValueError, TypeError):
                raise UnreadableFile(
                    f"cell {self._ref()} is formatted as a date but holds a serial number that is "
                    "no date Excel can show"
                ) from None
        return value


# --- the reader ----------------------------------------------------------------------------------


def _open(path: Path, limits: ReadLimits) -> _Workbook:
    with open(path, "rb") as handle:
        if handle.read(8) == OLE_SIGNATURE:
            raise UnreadableFile(
                "the workbook is password-protected (encrypted) or an old binary .xls: deliver an unprotected .xlsx"
            )
    archive = _Archive(path, limits)
    try:
        return _Workbook(archive)
    except BaseException:
        archive.close()
        raise


def _find_header(rows: list[tuple], options: ReadOptions) -> int | None:
    for position, row in enumerate(rows):
        names = [cell_text(v) for v in row]
        known = sum(1 for n in names if n and options.is_known_header(n))
        if known >= MIN_KNOWN_HEADERS:
            return position
    return None


def read_xlsx(path: Path, options: ReadOptions) -> Delivered:
    workbook = _open(path, options.limits)
    try:
        return _read_sheets(workbook, options)
    except BaseException:
        workbook.archive.close()
        raise


def _read_sheets(workbook: _Workbook, options: ReadOptions) -> Delivered:
    sheets = workbook.sheets
    if options.sheet:
        sheets = [s for s in sheets if s[0] == options.sheet]
        if not sheets:
            raise UnreadableFile(f"the workbook has no sheet named '{options.sheet}'")
    for _title, part in sheets:
        sheet = _Sheet(workbook, part, options.limits)
        rows = iter(sheet)
        head: list[tuple[int, tuple]] = []
        pending: list[tuple[int, tuple]] = []
        for number, values in rows:  # the rows within the first MAX_BANNER_ROWS + 1 of the sheet
            (head if number <= MAX_BANNER_ROWS + 1 else pending).append((number, values))
            if pending:
                break
        header_at = _find_header([values for _, values in head], options)
        if header_at is None:
            sheet.close()
            continue
        headers = check_headers([cell_text(v) or "" for v in head[header_at][1]])
        # Drop trailing unnamed columns that are entirely empty in the header row.
        while len(headers) > 1 and headers[-1].startswith("(column "):
            headers.pop()
        sheet.keep_columns = len(headers)
        pending = head[header_at + 1 :] + pending
        return Delivered(headers, _batches(workbook, sheet, pending, rows, headers, options))
    workbook.archive.close()
    raise UnreadableFile(
        f"no header row found in the first {MAX_BANNER_ROWS + 1} rows of any sheet "
        f"(looked for at least {MIN_KNOWN_HEADERS} known column names)"
    )


def _batches(workbook, sheet, pending, rows, headers, options) -> Iterator[RawBatch]:
    width = len(headers)
    buffer: list[list[str | None]] = []
    index: list[int] = []
    try:
        for row_number, row in _chain(pending, rows):
            cells = [cell_text(v) for v in row[:width]]
            cells += [None] * (width - len(cells))
            buffer.append(cells)
            index.append(row_number)
            if len(buffer) >= options.row_built_chunk_rows:
                yield _batch(buffer, index, headers)
                buffer, index = [], []
        if buffer:
            yield _batch(buffer, index, headers)
    finally:
        sheet.close()
        workbook.archive.close()


def _chain(first, rest):
    yield from first
    yield from rest


def _batch(buffer, index, headers) -> RawBatch:
    frame = pd.DataFrame(buffer, columns=headers, dtype="string")
    frame.index = pd.Index(index, name="source_row", dtype="int64")
    return RawBatch(drop_blank_rows(frame))
