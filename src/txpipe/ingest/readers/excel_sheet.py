"""The XLSX reader's worksheet: one sheet streamed as (Excel row number, cell values), under the limits.

The sheet is parsed as a stream of expat events, never as a tree, and its real rows are read,
never its ``<dimension>`` (which may understate them). Rows and cells are counted as they come
(``sheet_rows``, ``sheet_cells``), a cell's text is measured while it grows (``field_chars``), and
rows and cells must come in order within Excel's grid. A cell gives its cached value: text (its
ST_Xstring escapes decoded), a shared string, true/false, a number, or a date where its style shows
one (openpyxl's date arithmetic). An error cell (``t="e"``: ``#N/A``, ``#REF!``..., a formula's cached
error among them) gives :data:`ERROR_CELL`, which the reader reads as blank and counts. A value Excel
cannot hold ends as :class:`UnreadableFile` naming the cell.

For the physical accounting (lines.PhysicalCounts, unit ``sheet_rows``) the sheet counts its ``<row>``
elements as expat meets them, before and apart from the code that builds rows (``row_elements``), and the
rows it ends without a value it keeps (``empty_rows``: formatted empty cells, or values only in columns
past the header's); every other ``<row>`` is yielded, so the reader can attribute each one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from typing import NotRequired, TypedDict

from openpyxl.utils.datetime import from_excel, from_ISO8601

from txpipe.ingest.readers import UnreadableFile
from txpipe.ingest.readers.excel_archive import local_name, parse_part
from txpipe.ingest.readers.excel_workbook import Workbook, xstring
from txpipe.settings import ReadLimits

# Excel's own grid limit; a workbook beyond it was not written by a spreadsheet.
EXCEL_MAX_COLUMNS = 16_384  # XFD
MAX_NUMBER_CHARS = 100  # a number cell's text (Excel keeps 15 significant digits)
_CELL_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class SpreadsheetError:
    """The type of :data:`ERROR_CELL`: an error cell, whatever its error (the reader reads it as blank)."""

    def __repr__(self) -> str:
        return "ERROR_CELL"


ERROR_CELL = SpreadsheetError()

# What a cell holds once read (a datetime is a date); None is an empty cell.
CellValue = str | bool | int | float | dt.datetime | dt.date | dt.time | dt.timedelta | SpreadsheetError
# One row as the sheet yields it: its Excel row number and its values, None where a cell is empty.
SheetRow = tuple[int, tuple[CellValue | None, ...]]


class _Cell(TypedDict):
    """The cell being parsed: its type (``t``), its style index (``s``, -1 if unreadable), what it holds."""

    t: str
    s: int
    inline: NotRequired[bool]  # it holds an inline string (<is>)
    has_value: NotRequired[bool]  # it holds a <v>


def column_letter(column: int) -> str:
    """Excel's letters for a column number counted from 1 (empty for 0)."""
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class Sheet:
    """Streams one worksheet as (Excel row number, values) for rows holding any value.

    Only the first ``keep_columns`` columns are kept (all of Excel's until the header is known).
    """

    def __init__(self, workbook: Workbook, part: str, limits: ReadLimits) -> None:
        self.workbook, self.part, self.limits = workbook, part, limits
        self.keep_columns = EXCEL_MAX_COLUMNS
        self.cells = 0
        self.row_elements = 0  # <row> elements started (counted apart from the rows built)
        self.empty_rows = 0  # rows ended holding no value kept (not yielded)
        self.row_number = 0
        self.column = 0
        self.done: list[SheetRow] = []
        self.row: dict[int, CellValue] | None = None
        self.cell: _Cell | None = None
        self.text: list[str] = []
        self.length = 0
        self.capture = False
        self.rph = 0
        self.parsing = parse_part(workbook.archive, part, self._start, self._end, self._chars)

    def __iter__(self) -> Iterator[SheetRow]:
        for _ in self.parsing:
            if self.done:
                done, self.done = self.done, []
                yield from done

    def close(self) -> None:
        self.parsing.close()

    # expat handlers

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        tag = local_name(name)
        if tag == "row":  # every <row> element, wherever it is: what the row-building code misses shows
            self.row_elements += 1
        cell = self.cell
        if tag == "c" and self.row is not None:
            self._start_cell(attributes)
        elif cell is not None:
            if tag == "v":
                self.capture = True
                cell["has_value"] = True
            elif tag == "is":
                cell["inline"] = True
            elif tag == "rPh":
                self.rph += 1
            elif tag == "t" and cell.get("inline") and not self.rph:
                self.capture = True
        elif tag == "row":
            self._start_row(attributes)

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
        tag = local_name(name)
        if tag in ("v", "t"):
            self.capture = False
        elif tag == "rPh" and self.cell is not None:
            self.rph -= 1
        elif tag == "c" and self.cell is not None:
            self._end_cell(self.cell)
        elif tag == "row" and self.row is not None:
            self._end_row()

    def _start_row(self, attributes: dict[str, str]) -> None:
        given = attributes.get("r")
        if given is None:
            number = self.row_number + 1
        elif given.isdigit() and len(given) <= 9:
            number = int(given)
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

    def _start_cell(self, attributes: dict[str, str]) -> None:
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

    def _end_cell(self, cell: _Cell) -> None:
        self.cell = None
        self.capture = False
        if self.column > self.keep_columns:
            return
        value = self._value(cell, "".join(self.text))
        self.text.clear()
        if value is None:
            return
        if self.row is None:  # a row closed (or opened and closed) inside the cell: the sheet is malformed
            raise UnreadableFile(f"the sheet has a cell outside any row (after row {self.row_number:,})")
        self.row[self.column] = value

    def _end_row(self) -> None:
        row, self.row = self.row, None
        if row:
            values: list[CellValue | None] = [None] * max(row)
            for column, value in row.items():
                values[column - 1] = value
            self.done.append((self.row_number, tuple(values)))
        else:
            self.empty_rows += 1

    def _ref(self) -> str:
        return f"{column_letter(self.column)}{self.row_number}"

    # cell values

    def _value(self, cell: _Cell, text: str) -> CellValue | None:
        kind = cell["t"]
        if kind == "inlineStr":
            return xstring(text) if cell.get("inline") else None
        if not cell.get("has_value") or text == "":
            return None
        if kind == "e":  # an error value (a formula's cached result among them)
            return ERROR_CELL
        if kind == "s":
            strings = self.workbook.strings
            if not (text.isdigit() and len(text) <= 10 and int(text) < len(strings)):
                raise UnreadableFile(
                    f"cell {self._ref()} refers to a shared string the workbook does not hold "
                    f"(it holds {len(strings):,})"
                )
            return strings[int(text)]
        if kind == "str":
            return xstring(text)
        if kind == "b":
            if text.strip() not in ("0", "1"):
                raise UnreadableFile(f"cell {self._ref()} is a true/false cell holding something else")
            return text.strip() == "1"
        if kind == "d":
            return self._date(text)
        if kind != "n":
            raise UnreadableFile(f"cell {self._ref()} has a cell type a workbook does not use")
        return self._number(cell, text.strip())

    def _date(self, text: str) -> CellValue:
        """A date cell's value (ISO 8601 text)."""
        try:
            value: CellValue | None = from_ISO8601(text.strip()) if len(text) <= MAX_NUMBER_CHARS else None
        except (ValueError, OverflowError, TypeError):
            value = None
        if value is None:
            raise UnreadableFile(f"cell {self._ref()} is a date cell holding no readable date")
        return value

    def _number(self, cell: _Cell, text: str) -> CellValue:
        """A number cell's value: the number, or the date or duration its style shows."""
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
                date: CellValue = from_excel(
                    value, self.workbook.epoch, timedelta=style in self.workbook.timedelta_styles
                )
            except (OverflowError, ValueError, TypeError):
                raise UnreadableFile(
                    f"cell {self._ref()} is formatted as a date but holds a serial number that is "
                    "no date Excel can show"
                ) from None
            return date
        return value
