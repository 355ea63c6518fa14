"""Text from data, made safe to print: control and bidi characters shown as escapes.

A file name, a header or a value may hold terminal escape sequences (ESC ... sets a window title,
recolours, hides text), line breaks that forge log lines, or bidi overrides that reorder what a
reader sees. Everything txpipe prints or logs that came from a delivery goes through
:func:`printable` first. Text put in a CSV goes through :func:`spreadsheet_safe`, so that no
spreadsheet reads a cell of it as a formula, whatever delimiter its locale splits on.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, overload

# Shown escaped, never sent to a terminal raw: C0, DEL, C1, the bidi embeddings, overrides and
# isolates (and the marks), and the line/paragraph separators.
_ESCAPED = (
    set(range(0x20))
    | {0x7F}
    | set(range(0x80, 0xA0))
    | set(range(0x202A, 0x202F))
    | set(range(0x2066, 0x206A))
    | {0x061C, 0x200E, 0x200F, 0x2028, 0x2029}
)
_ESCAPE_TABLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _ESCAPED} | {
    0x09: "\\t",
    0x0A: "\\n",
    0x0D: "\\r",
}


def printable(text: str) -> str:
    """``text`` with control and bidi characters written as escapes (``\\x1b``, ``\\u202e``, ``\\n``)."""
    return text.translate(_ESCAPE_TABLE)


# Typed by what each kind of value becomes. The function tests isinstance(value, dict), (list, tuple):
# any such container qualifies whatever it holds, hence Any for its items.
@overload
def printable_data(value: str) -> str: ...
@overload
def printable_data(value: dict[Any, Any]) -> dict[object, object]: ...
@overload
def printable_data(value: list[Any] | tuple[Any, ...]) -> list[object]: ...
@overload
def printable_data(value: object) -> object: ...


def printable_data(value: object) -> object:
    """Every string in ``value`` (nested in dicts and lists, keys too) made :func:`printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_data(k): printable_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_data(v) for v in value]
    return value


def printable_html(value: object) -> object:
    """Jinja's ``finalize`` for our pages: text from data shown with control and bidi characters as
    escapes (autoescaping then handles markup); our own Markup passes untouched."""
    from markupsafe import Markup

    return printable(value) if isinstance(value, str) and not isinstance(value, Markup) else value


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&-])")


def markdown_cell(value: object) -> str:
    """A value for a Markdown table cell: printable, with Markdown and HTML syntax escaped (a file
    named ``[x](javascript:...)`` or ``<img ...>`` is shown as its name, and ``|`` cannot split the row)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", printable("" if value is None else str(value)))


# --- Spreadsheets ----------------------------------------------------------------------------------
# A CSV opened in a spreadsheet may be split on "," ";" or tab (the locale's choice), and a line break
# inside a value may start a row when the split ignores quotes; a cell that then begins with = + - @
# (behind blanks, invisible characters or quotes, or as a fullwidth, small, super- or subscript form
# that NFKC maps to one) is read as a formula, and OWASP adds a cell that begins with a tab or CR.
FORMULA_TRIGGERS = frozenset("=+-@")
_LINE_BREAKS = frozenset("\t\r\n")  # breaks that are blank too: the cell they start is judged alone
_UNSEEN_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
_FILLERS = frozenset('\u115f\u1160\u3164\uffa0\u2800"')  # blank-looking letters; the quote a reader drops
_PLAIN_ASCII = frozenset(chr(c) for c in range(0x21, 0x7F)) - FORMULA_TRIGGERS - {'"'}
# Every value spreadsheet_safe may change matches this (in Python's re and in RE2, for Arrow): a tab or
# CR, a character beyond ASCII, or a trigger behind ASCII blanks, controls or quotes where a cell may begin.
FORMULA_SUSPECT = r'[\t\r]|[^\x00-\x7f]|(?:^|[,;\n])[\x00-\x20"\x7f]*[=+\-@]'
_MAYBE_FORMULA = re.compile(FORMULA_SUSPECT)
_CELL_BREAK = re.compile(r"[,;\t\r\n]")


def _unseen(char: str) -> bool:
    return char in _FILLERS or char.isspace() or unicodedata.category(char) in _UNSEEN_CATEGORIES


def _starts_formula(value: str, start: int) -> bool:
    """Whether a cell beginning at ``value[start]`` would be a formula: past unseen characters (up to
    the next tab or line break, where the next cell is judged), the first character is a trigger as it
    is or in NFKC form; or, past quotes, it is a tab or CR."""
    if value[start : start + 1] in _PLAIN_ASCII:  # the lead itself, and no mark after it makes a trigger
        return False
    end = start
    while end < len(value) and value[end] == '"':
        end += 1
    if value[end : end + 1] in ("\t", "\r"):
        return True
    end = start
    while end < len(value) and _unseen(value[end]) and value[end] not in _LINE_BREAKS:
        end += 1
    if end == len(value) or value[end] in _LINE_BREAKS:
        return False
    normalised = unicodedata.normalize("NFKC", value[start : end + 8])
    lead = next((char for char in normalised if not _unseen(char)), "")
    return any(unicodedata.normalize("NFKC", c)[:1] in FORMULA_TRIGGERS for c in (value[end], lead) if c)


def spreadsheet_safe(value: str) -> str:
    """``value`` with an apostrophe put at every place a spreadsheet could start a cell (the start, and
    after each , ; tab or line break) that would begin a formula there; any other text is unchanged.
    A spreadsheet shows a cell that begins with ' as text (and hides the apostrophe)."""
    if not _MAYBE_FORMULA.search(value):
        return value
    starts = [0, *(found.end() for found in _CELL_BREAK.finditer(value))]
    risky = [start for start in starts if _starts_formula(value, start)]
    if not risky:
        return value
    pieces = [value[: risky[0]]]
    for start, end in zip(risky, [*risky[1:], len(value)], strict=True):
        pieces += ["'", value[start:end]]
    return "".join(pieces)
