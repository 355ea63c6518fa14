"""Text from data, made safe to print: control and bidi characters shown as escapes.

A file name, a header or a value may hold terminal escape sequences (ESC ... sets a window title,
recolours, hides text), line breaks that forge log lines, or bidi overrides that reorder what a
reader sees. Everything txpipe prints or logs that came from a delivery goes through
:func:`printable` first.
"""

from __future__ import annotations

import re
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
