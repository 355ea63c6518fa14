"""How ``txpipe query`` refuses: the ``QueryRefused`` error and its one-line message.

A message is DuckDB's first line, never the lines after it, control characters escaped, and, in an
error raised while running, any text it quotes that the user's query does not hold (a value from the
data) withheld. ``txpipe.warehouse.query`` re-exports every public name here.
"""

from __future__ import annotations

import duckdb

from txpipe.text import printable


class QueryRefused(Exception):
    """The query was refused (it would change something or reach outside the warehouse), or it
    failed (SQL error, time limit, memory cap). The message is one line."""


# Errors found before any data is read: their first line speaks of the query and the schema only.
_ABOUT_THE_QUERY = (
    duckdb.ParserException,
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.PermissionException,
    duckdb.InterruptException,
    duckdb.OutOfMemoryException,
)


def first_line(error: BaseException, sql: str | None = None) -> str:
    """DuckDB's first line of ``error``, control characters escaped. For an error raised while
    running (not while parsing or binding), quoted text that is not in ``sql`` is withheld: it
    quotes a value from the data (``Could not convert string '...' to INT32``)."""
    lines = str(error).strip().splitlines()
    line = lines[0].strip() if lines else type(error).__name__
    if sql is not None and not isinstance(error, _ABOUT_THE_QUERY):
        line = _withhold_quoted(line, sql)
    return printable(line)


WITHHELD = "<value withheld>"


def _withhold_quoted(line: str, sql: str) -> str:
    """``line`` with each quoted span (from a quote to the last quote of that kind, so a value
    holding quotes is withheld whole) replaced, unless the user's query holds it."""
    out: list[str] = []
    rest = line
    while True:
        found = [(rest.find(q), q) for q in ("'", '"') if rest.count(q) >= 2]
        if not found:
            break
        start, quote = min(found)
        end = rest.rfind(quote)
        content = rest[start + 1 : end]
        out.append(rest[: start + 1] + (content if content and content in sql else WITHHELD) + quote)
        rest = rest[end + 1 :]
    return "".join(out) + rest
