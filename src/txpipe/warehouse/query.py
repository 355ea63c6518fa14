"""Read-only ad-hoc SQL on the published warehouse.

Locks, each of which holds alone:

- **An allow-list of parsed statements** (``txpipe.warehouse.query_guard``). DuckDB's own parser
  splits the query and names each statement's type; only SELECT (with VALUES, FROM-first, DESCRIBE,
  SHOW, SUMMARIZE), PRAGMA and CALL pass. EXPLAIN and EXPLAIN ANALYZE are judged by the statement
  they wrap (EXPLAIN ANALYZE runs it), which must itself be one of those.
- **The connection.** Read-only, external access disabled, no extension installed or loaded,
  configuration locked, so no file can be read or written, no database attached and no limit
  lifted. Its spill folder is a private temporary folder removed afterwards (DuckDB lets a
  connection write there even with external access disabled).
- **Limits.** A time limit (a timer interrupts the connection), a memory cap (the spill folder is
  capped at the same size) and results fetched in batches, so a caller streams or stops early.

Every refusal and every SQL error is a ``QueryRefused`` with ONE line (``txpipe.warehouse.query_errors``):
DuckDB's first line, never the lines after it, control characters escaped, and, in an error raised
while running, any text it quotes that the user's query does not hold (a value from the data) withheld.

This module connects, runs and fetches; it re-exports the public names of the other two, so callers
import everything from here.
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

from txpipe.warehouse.query_errors import WITHHELD, QueryRefused, first_line
from txpipe.warehouse.query_guard import ALLOWED, READING_STATEMENTS, check_query

__all__ = [
    "ALLOWED",
    "BATCH_ROWS",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT",
    "LOCKED_CONFIG",
    "READING_STATEMENTS",
    "WITHHELD",
    "Limits",
    "QueryRefused",
    "QueryResult",
    "QueryStream",
    "Row",
    "check_query",
    "connect_read_only",
    "first_line",
    "open_query",
    "run_query",
]

DEFAULT_TIMEOUT = 300.0  # seconds
DEFAULT_MEMORY_LIMIT = "1GB"
BATCH_ROWS = 2048

LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}

Row = tuple[object, ...]  # one result row, values as DuckDB hands them to Python
_Config = dict[str, str | bool | int | float | list[str]]  # what duckdb.connect takes as its config


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[Row]
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
    config: _Config = dict(LOCKED_CONFIG)
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
        config["max_temp_directory_size"] = memory_limit
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(str(warehouse), read_only=True, config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET lock_configuration = true")  # nothing the query says can undo the above
    return con


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

    def batches(self) -> Iterator[list[Row]]:
        while True:
            with _refusals(self._watchdog, self._sql):
                batch = self._cursor.fetchmany(self.batch_rows)
            self._watchdog.check()
            if not batch:
                return
            yield batch

    def rows(self, max_rows: int | None = None) -> tuple[list[Row], bool]:
        """Up to ``max_rows`` rows (all if None) and whether there were more."""
        out: list[Row] = []
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
