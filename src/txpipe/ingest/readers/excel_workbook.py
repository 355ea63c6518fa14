"""The XLSX reader's workbook parts: where the sheets are (and which are hidden), the shared strings,
the date styles, the epoch.

Each part is read whole, streamed through :func:`parse_part`, before any row is read; what a part
may hold is capped as it is parsed (sheets, relationships, cell formats, a shared string's length
against ``field_chars``), and shared strings are held as blocks of text with offsets, never as one
Python string each. openpyxl gives only its date-format rules; a missing or broken part ends as
:class:`UnreadableFile`.
"""

from __future__ import annotations

import posixpath
import re
from array import array
from pathlib import Path

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

from txpipe.ingest.readers import UnreadableFile
from txpipe.ingest.readers.excel_archive import (
    NOT_A_WORKBOOK,
    Archive,
    local_attributes,
    local_name,
    parse_part,
    parse_whole,
)
from txpipe.settings import ReadLimits

# Excel's own limits; a workbook beyond them was not written by a spreadsheet.
EXCEL_MAX_CELL_FORMATS = 65_490
MAX_SHEETS = 10_000

OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")
REL_OFFICE_DOCUMENT = "/officeDocument"
REL_WORKSHEET = "/worksheet"
REL_SHARED_STRINGS = "/sharedStrings"
REL_STYLES = "/styles"


def open_workbook(path: Path, limits: ReadLimits) -> Workbook:
    """The workbook at ``path``, its archive open (the caller closes ``workbook.archive``)."""
    with open(path, "rb") as handle:
        if handle.read(8) == OLE_SIGNATURE:
            raise UnreadableFile(
                "the workbook is password-protected (encrypted) or an old binary .xls: deliver an unprotected .xlsx"
            )
    archive = Archive(path, limits)
    try:
        return Workbook(archive)
    except BaseException:
        archive.close()
        raise


def relationships(archive: Archive, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (type, target part name)."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    found: dict[str, tuple[str, str]] = {}
    if not archive.has(rels_name):
        return found

    def start(name: str, attributes: dict[str, str]) -> None:
        if local_name(name) == "Relationship":
            if len(found) >= MAX_SHEETS * 2:
                raise UnreadableFile("the workbook lists more relationships than a workbook holds")
            a = local_attributes(attributes)
            if a.get("TargetMode") == "External":
                return
            target = a.get("Target", "")
            resolved = (
                target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            )
            found[a.get("Id", "")] = (a.get("Type", ""), resolved)

    parse_whole(parse_part(archive, rels_name, start))
    return found


class Workbook:
    """Where the sheets are, the shared strings, which styles are dates, and the date epoch."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        root = relationships(archive, "")
        office = [target for kind, target in root.values() if kind.endswith(REL_OFFICE_DOCUMENT)]
        book = office[0] if office else "xl/workbook.xml"
        if not archive.has(book):
            raise UnreadableFile(f"{NOT_A_WORKBOOK}: it holds no workbook part")
        rels = relationships(archive, book)
        self.epoch = CALENDAR_WINDOWS_1900
        self.sheets: list[tuple[str, str]] = []  # (title, part)
        self.hidden: set[str] = set()  # the parts of the sheets the workbook hides (state hidden or veryHidden)
        listed: list[tuple[str, str, bool]] = []  # (title, relationship id, hidden)

        def start(name: str, attributes: dict[str, str]) -> None:
            tag = local_name(name)
            if tag == "sheet":
                if len(listed) >= MAX_SHEETS:
                    raise UnreadableFile(f"the workbook lists more than {MAX_SHEETS:,} sheets")
                a = local_attributes(attributes)
                listed.append((a.get("name", ""), a.get("id", ""), a.get("state", "visible") != "visible"))
            elif tag == "workbookPr" and local_attributes(attributes).get("date1904", "").lower() in ("1", "true"):
                self.epoch = CALENDAR_MAC_1904

        parse_whole(parse_part(archive, book, start))
        for title, rel_id, hidden in listed:
            kind, target = rels.get(rel_id, ("", ""))
            if kind.endswith(REL_WORKSHEET):  # chartsheets and dialog sheets hold no rows
                self.sheets.append((title, target))
                if hidden:  # hidden, veryHidden (or a state a spreadsheet does not write)
                    self.hidden.add(target)
        by_kind = {kind.rsplit("/", 1)[-1]: target for kind, target in rels.values()}
        styles = by_kind.get(REL_STYLES[1:])
        self.date_styles, self.timedelta_styles = (
            date_styles(archive, styles) if styles and archive.has(styles) else (set(), set())
        )
        strings = by_kind.get(REL_SHARED_STRINGS[1:])
        self.strings = SharedStrings.read(archive, strings) if strings and archive.has(strings) else SharedStrings()


def date_styles(archive: Archive, part: str) -> tuple[set[int], set[int]]:
    """Indexes of the cell formats (cellXfs) that show dates, and those that show durations."""
    custom: dict[int, str] = {}
    format_ids: list[int] = []
    state = {"in_xfs": False}

    def start(name: str, attributes: dict[str, str]) -> None:
        tag = local_name(name)
        if tag == "numFmt":
            a = local_attributes(attributes)
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
            value = local_attributes(attributes).get("numFmtId", "0")
            format_ids.append(int(value[:9]) if value.isdigit() else 0)

    def end(name: str) -> None:
        if local_name(name) == "cellXfs":
            state["in_xfs"] = False

    parse_whole(parse_part(archive, part, start, end))
    dates: set[int] = set()
    durations: set[int] = set()
    for index, format_id in enumerate(format_ids):
        code = custom.get(format_id, BUILTIN_FORMATS.get(format_id))
        if is_date_format(code):
            dates.add(index)
        if is_timedelta_format(code):
            durations.add(index)
    return dates, durations


# The escapes OOXML text (ST_Xstring) uses for characters XML 1.0 cannot hold: _xHHHH_ for a control
# character (U+0000 to U+001F; a NUL is _x0000_) and _x005F_ for an underscore that would start one.
_XSTRING_ESCAPE = re.compile(r"_x(00[01][0-9A-Fa-f]|005[Ff])_")


def xstring(text: str) -> str:
    """A cell's text with its ST_Xstring escapes decoded (``_x000D_`` is a carriage return, ``_x0000_``
    a NUL, ``_x005F_x0000_`` the literal text ``_x0000_``); other ``_xHHHH_`` stay as written."""
    if "_x" not in text:
        return text
    return _XSTRING_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)


class SharedStrings:
    """The shared-string table, held compactly: blocks of joined text and an offset per string."""

    BLOCK = 4096

    def __init__(self) -> None:
        """An empty table (a workbook without a shared-strings part)."""
        self.blocks: list[str] = []
        self.ends = array("q")  # end offset of string i within its block

    @classmethod
    def read(cls, archive: Archive, part: str) -> SharedStrings:
        """The table in ``part``; a string longer than ``field_chars`` is refused as it grows."""
        table = cls()
        reader = _SharedStringsReader(table, archive.limits.field_chars)
        parse_whole(parse_part(archive, part, reader.start, reader.end, reader.chars))
        if reader.pending:
            table.add_block(reader.pending)
        return table

    def add_block(self, strings: list[str]) -> None:
        """Append ``strings`` as one block, and empty the list for the next."""
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


class _SharedStringsReader:
    """The expat handlers for the shared-strings part: each ``<si>``'s text, phonetic runs left out."""

    def __init__(self, table: SharedStrings, limit: int) -> None:
        self.table, self.limit = table, limit
        self.pending: list[str] = []  # strings read, not yet added to the table as a block
        self.piece: list[str] = []  # the text of the current <si>
        self.in_item = False  # inside an <si>
        self.in_text = False  # inside a <t> of the <si> that is not phonetic
        self.phonetic = 0  # depth of <rPh> (phonetic runs)
        self.length = 0  # characters of the current <si> so far

    def start(self, name: str, attributes: dict[str, str]) -> None:
        tag = local_name(name)
        if tag == "si":
            self.in_item, self.length = True, 0
            self.piece.clear()
        elif tag == "rPh":
            self.phonetic += 1
        elif tag == "t" and self.in_item and not self.phonetic:
            self.in_text = True

    def chars(self, data: str) -> None:
        if self.in_text:
            self.length += len(data)
            if self.length > self.limit:
                raise UnreadableFile(
                    f"shared string {len(self.table) + len(self.pending) + 1:,} of the workbook is longer than "
                    f"the limit of {self.limit:,} characters (TXPIPE_MAX_FIELD_CHARS)"
                )
            self.piece.append(data)

    def end(self, name: str) -> None:
        tag = local_name(name)
        if tag == "t":
            self.in_text = False
        elif tag == "rPh":
            self.phonetic -= 1
        elif tag == "si" and self.in_item:
            self.in_item = False
            self.pending.append(xstring("".join(self.piece)))
            if len(self.pending) == self.table.BLOCK:
                self.table.add_block(self.pending)
