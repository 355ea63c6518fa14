"""Read-only ad-hoc SQL on the published warehouse.

Locks, each of which holds alone:

- **An allow-list of parsed statements.** DuckDB's own parser splits the query and names each
  statement's type; only SELECT (with VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE), PRAGMA and
  CALL pass. EXPLAIN and EXPLAIN ANALYZE are judged by the statement they wrap (EXPLAIN ANALYZE
  runs it), which must itself be one of those.
- **The connection.** Read-only, external access disabled, no extension installed or loaded,
  configuration locked, so no file can be read or written, no database attached and no limit
  lifted. Its spill folder is a private temporary folder removed afterwards (DuckDB lets a
  connection write there even with external access disabled).
- **Limits.** A time limit (a timer interrupts the connection), a memory cap (the spill folder is
  capped at the same size) and results fetched in batches, so a caller streams or stops early.

Every refusal and every SQL error is a ``QueryRefused`` with ONE line: DuckDB's first line, never
the lines after it, control characters escaped, and, in an error raised while running, any text
it quotes that the user's query does not hold (a value from the data) withheld.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from txpipe.text import printable

READING_STATEMENTS = {"SELECT", "PRAGMA", "CALL"}  # and EXPLAIN of one of them
ALLOWED = READING_STATEMENTS | {"EXPLAIN"}

DEFAULT_TIMEOUT = 300.0  # seconds
DEFAULT_MEMORY_LIMIT = "1GB"
BATCH_ROWS = 2048

LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}


class QueryRefused(Exception):
    """The query was refused (it would change something or reach outside the warehouse), or it
    failed (SQL error, time limit, memory cap). The message is one line."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool = False


@dataclass
class Limits:
    timeout: float | None = DEFAULT_TIMEOUT  # seconds; None or 0: no limit
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # DuckDB's notation: 500MB, 2GB, ...


def connect_read_only(
    warehouse: Path, memory_limit: str | None = None, temp_directory: Path | None = None
) -> duckdb.DuckDBPyConnection:
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `txpipe run` or `txpipe build` first")
    config: dict = dict(LOCKED_CONFIG)
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
        config["max_temp_directory_size"] = memory_limit
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(str(warehouse), read_only=True, config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET lock_configuration = true")  # nothing the query says can undo the above
    return con


# --- the allow-list -------------------------------------------------------------------------


def _significant_tokens(sql: str) -> list[tuple[int, int, str]]:
    """(start, end, type) of every token but comments; a token ends where the next one starts."""
    tokens = duckdb.tokenize(sql)
    out = []
    for i, (offset, kind) in enumerate(tokens):
        if kind.name != "comment":
            out.append((offset, tokens[i + 1][0] if i + 1 < len(tokens) else len(sql), kind.name))
    return out


def _token_text(sql: str, tokens: list[tuple[int, int, str]], i: int) -> str:
    return sql[tokens[i][0] : tokens[i][1]].strip()


def _explained_candidates(sql: str) -> list[str]:
    """Every text the EXPLAIN statement ``sql`` may wrap, by its grammar:
    ``EXPLAIN [ANALYZE | ANALYSE] [( options )] statement``. Where the grammar is ambiguous
    (``EXPLAIN (SELECT 1)``: options or a parenthesised query?) every reading is returned."""
    tokens = _significant_tokens(sql)
    if not tokens or _token_text(sql, tokens, 0).upper() != "EXPLAIN":
        return []
    starts = {1}
    if len(tokens) > 1 and _token_text(sql, tokens, 1).upper() in ("ANALYZE", "ANALYSE", "VERBOSE"):
        starts.add(2)
    for start in sorted(starts):
        if start < len(tokens) and _token_text(sql, tokens, start) == "(":
            depth = 0
            for i in range(start, len(tokens)):
                text = _token_text(sql, tokens, i)
                if tokens[i][2] == "operator":  # not a string or quoted name holding a parenthesis
                    depth += text.count("(") - text.count(")")
                if depth <= 0:
                    starts.add(i + 1)
                    break
    return [sql[tokens[s][0] :] for s in sorted(starts) if s < len(tokens)]


def _check(statement) -> None:
    kind = statement.type.name
    if kind not in ALLOWED:
        raise QueryRefused(
            f"txpipe query is read-only: {kind} statements are not allowed "
            f"(only {', '.join(sorted(ALLOWED))}; EXPLAIN only of {', '.join(sorted(READING_STATEMENTS))})"
        )
    if kind != "EXPLAIN":
        return
    # The wrapped statement is one of the candidates; each candidate that parses as a statement
    # must be a reading one, and at least one must parse (otherwise we cannot tell what runs).
    wrapped = []
    for candidate in _explained_candidates(statement.query):
        try:
            parsed = duckdb.extract_statements(candidate)
        except duckdb.Error:
            continue
        if len(parsed) != 1:
            continue
        wrapped.append(parsed[0].type.name)
    if not wrapped:
        raise QueryRefused(
            "txpipe query cannot tell which statement this EXPLAIN wraps: EXPLAIN [ANALYZE] "
            "may only wrap a SELECT, PRAGMA or CALL"
        )
    refused = sorted(set(wrapped) - READING_STATEMENTS)
    if refused:
        raise QueryRefused(
            f"txpipe query is read-only: EXPLAIN of {refused[0]} statements is not allowed "
            f"(EXPLAIN [ANALYZE] may only wrap {', '.join(sorted(READING_STATEMENTS))})"
        )


def check_query(sql: str) -> list:
    """The parsed statements of ``sql``, or ``QueryRefused`` if any is not a reading one."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryRefused(f"the query does not parse: {first_line(error)}") from None
    if not statements:
        raise QueryRefused("the query is empty")
    for statement in statements:
        _check(statement)
    return statements


# --- running it -----------------------------------------------------------------------------

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
    out, rest = [], line
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


class _Watchdog:
    """Interrupts the connection when the time limit passes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, timeout: float | None) -> None:
        self.con, self.timeout, self.fired, self.done = con, timeout, False, False
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout, self._fire) if timeout and timeout > 0 else None
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if not self.done:
                self.fired = True
                self.con.interrupt()

    def stop(self) -> None:
        with self._lock:
            self.done = True
        if self._timer is not None:
            self._timer.cancel()

    def check(self) -> None:
        if self.fired:
            raise QueryRefused(self.message())

    def message(self) -> str:
        return (
            f"the query was stopped at the time limit of {self.timeout:g} s "
            "(--timeout SECONDS raises it; 0 means no limit)"
        )


@dataclass
class QueryStream:
    """An open query: its columns, and its rows in batches as DuckDB produces them."""

    columns: list[str]
    _cursor: duckdb.DuckDBPyConnection = field(repr=False)
    _watchdog: _Watchdog = field(repr=False)
    _sql: str = field(repr=False)
    batch_rows: int = BATCH_ROWS

    def batches(self) -> Iterator[list[tuple]]:
        while True:
            with _refusals(self._watchdog, self._sql):
                batch = self._cursor.fetchmany(self.batch_rows)
            self._watchdog.check()
            if not batch:
                return
            yield batch

    def rows(self, max_rows: int | None = None) -> tuple[list[tuple], bool]:
        """Up to ``max_rows`` rows (all if None) and whether there were more."""
        out: list[tuple] = []
        for batch in self.batches():
            out.extend(batch)
            if max_rows is not None and len(out) > max_rows:
                return out[:max_rows], True
        return out, False


@contextmanager
def _refusals(watchdog: _Watchdog | None, sql: str) -> Iterator[None]:
    """Any DuckDB error (or a value Python cannot take) becomes one ``QueryRefused`` line."""
    try:
        yield
    except QueryRefused:
        raise
    except duckdb.InterruptException:
        if watchdog is not None and watchdog.fired:
            raise QueryRefused(watchdog.message()) from None
        raise QueryRefused("the query was interrupted") from None
    except duckdb.PermissionException as error:
        raise QueryRefused(
            "txpipe query cannot read or write files, attach databases or load extensions: " + first_line(error, sql)
        ) from None
    except duckdb.OutOfMemoryException as error:
        raise QueryRefused(first_line(error, sql) + " (--memory-limit raises the cap)") from None
    except duckdb.Error as error:
        raise QueryRefused(first_line(error, sql)) from None
    except (ValueError, OverflowError, TypeError, UnicodeError) as error:
        # a value DuckDB produced that Python cannot represent; the message may quote it
        raise QueryRefused(f"a value in the result cannot be converted for Python ({type(error).__name__})") from None


@contextmanager
def open_query(
    warehouse: Path, sql: str, limits: Limits | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[QueryStream]:
    """Check ``sql``, run it read-only under ``limits`` and hand back its result as a stream.

    The time limit covers the whole query, fetching included, until the block is left."""
    limits = limits or Limits()
    statements = check_query(sql)
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `txpipe run` or `txpipe build` first")
    spill = Path(tempfile.mkdtemp(prefix="txpipe-query-"))
    try:
        with _refusals(None, sql):
            con = connect_read_only(warehouse, limits.memory_limit, spill)
        watchdog = _Watchdog(con, limits.timeout)
        try:
            with _refusals(watchdog, sql):
                for statement in statements[:-1]:  # run in turn; only the last one's result is shown
                    con.execute(statement.query)
                    watchdog.check()
                cursor = con.execute(statements[-1].query)
            watchdog.check()
            columns = [d[0] for d in cursor.description or []]
            yield QueryStream(columns, cursor, watchdog, sql, batch_rows)
        finally:
            watchdog.stop()
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def run_query(warehouse: Path, sql: str, limits: Limits | None = None, max_rows: int | None = None) -> QueryResult:
    """The whole result (or its first ``max_rows`` rows) of a read-only query."""
    with open_query(warehouse, sql, limits) as stream:
        rows, truncated = stream.rows(max_rows)
        return QueryResult(stream.columns, rows, truncated)


def headline(warehouse: Path, name: str = "headline_partner_participants") -> QueryResult:
    """A run-summary table for the latest year: partner participants by framework and programme
    (the default), or ``headline_course_completion`` (completion over education and training only)."""
    from txpipe.warehouse import read_sql

    with connect_read_only(warehouse) as con:
        cursor = con.execute(read_sql(name))
        return QueryResult([d[0] for d in cursor.description], cursor.fetchall())
