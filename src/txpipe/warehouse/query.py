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
- **Limits the operating system enforces** (``txpipe.warehouse.query_process``). The query runs in
  a child process whose address space is capped at the memory limit plus a fixed overhead and which
  is interrupted, then killed, at the time limit; DuckDB's own memory cap (the spill folder capped at
  the same size) still applies inside it. Rows come back in batches, so a caller streams or stops
  early. ``Limits`` refuses a limit that would lift the limit.

Every refusal and every SQL error is a ``QueryRefused`` with ONE line (``txpipe.warehouse.query_errors``):
DuckDB's first line, never the lines after it, control characters escaped, and, in an error raised
while running, any text it quotes that the user's query does not hold (a value from the data) withheld.

This module holds the limits, connects, and starts the query and reads its rows; it re-exports the
public names of the others, so callers import everything from here.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from txpipe.warehouse.query_errors import WITHHELD, QueryRefused, first_line
from txpipe.warehouse.query_guard import ALLOWED, READING_STATEMENTS, check_query
from txpipe.warehouse.query_process import GRACE, OVERHEAD_BYTES, Frame, QueryProcess, Request

__all__ = [
    "ALLOWED",
    "BATCH_ROWS",
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT",
    "LOCKED_CONFIG",
    "OVERHEAD_BYTES",
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
    "limit_refusal",
    "memory_bytes",
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

# DuckDB's notation of a size: KB, MB, GB, TB are powers of 1000, KiB ... TiB powers of 1024.
MEMORY_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}

Row = tuple[object, ...]  # one result row, values as DuckDB hands them to Python
_Config = dict[str, str | bool | int | float | list[str]]  # what duckdb.connect takes as its config


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[Row]
    truncated: bool = False


def limit_refusal(timeout: float | None, memory_limit: str) -> str | None:
    """Why the query's limits are refused (a limit must be one, never lifted by an odd value), or None."""
    if timeout is not None and (not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout < 0):
        return "--timeout must be a finite number of seconds (0: no limit)"
    match = MEMORY_SIZE.match(memory_limit) if isinstance(memory_limit, str) else None
    if match is None or float(match.group(1)) <= 0:
        return "--memory-limit must be a positive size such as 500MB or 2GB"
    return None


def memory_bytes(memory_limit: str) -> int:
    """The bytes of a size in DuckDB's notation (``500MB``, ``2GiB``); ValueError if it is not one."""
    match = MEMORY_SIZE.match(memory_limit)
    if match is None:
        raise ValueError("not a size such as 500MB or 2GB")
    return max(1, int(float(match.group(1)) * _UNITS[match.group(2).upper()]))


@dataclass(frozen=True)
class Limits:
    """A query's limits; refused (``QueryRefused``) when one would lift the limit."""

    timeout: float | None = DEFAULT_TIMEOUT  # seconds; None or 0: no limit
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # DuckDB's notation: 500MB, 2GB, ...

    def __post_init__(self) -> None:
        if refusal := limit_refusal(self.timeout, self.memory_limit):
            raise QueryRefused(refusal)

    @property
    def address_space(self) -> int:
        """The query process's cap: the memory limit and the process's own overhead, in bytes."""
        return memory_bytes(self.memory_limit) + OVERHEAD_BYTES

    def time_message(self) -> str:
        return (
            f"the query was stopped at the time limit of {self.timeout:g} s "
            "(--timeout SECONDS raises it; 0 means no limit)"
        )

    def memory_message(self, detail: str) -> str:
        limit = self.memory_limit.strip()
        return f"the query was stopped at the memory limit of {limit} ({detail}; --memory-limit SIZE raises it)"


def connect_read_only(
    warehouse: Path, memory_limit: str | None = None, temp_directory: Path | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `txpipe run` or `txpipe build` first")
    config: _Config = dict(LOCKED_CONFIG)
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
        config["max_temp_directory_size"] = memory_limit
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(str(warehouse), read_only=True, config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET lock_configuration = true")  # nothing the query says can undo the above
    return con


class QueryStream:
    """An open query: its columns, and its rows in batches as the query process sends them."""

    def __init__(self, process: QueryProcess, limits: Limits, deadline: float | None, batch_rows: int) -> None:
        self._process, self._limits, self._deadline, self._ended = process, limits, deadline, False
        self.batch_rows = batch_rows
        kind, *rest = self._next()
        if kind != "columns":
            raise QueryRefused(f"the query process sent {kind!r} before the columns")
        self.columns: list[str] = rest[0]

    def batches(self) -> Iterator[list[Row]]:
        while not self._ended:
            kind, *rest = self._next()
            if kind == "end":
                self._ended = True
            elif kind == "rows":
                yield rest[0]

    def rows(self, max_rows: int | None = None) -> tuple[list[Row], bool]:
        """Up to ``max_rows`` rows (all if None) and whether there were more."""
        out: list[Row] = []
        for batch in self.batches():
            out.extend(batch)
            if max_rows is not None and len(out) > max_rows:
                return out[:max_rows], True
        return out, False

    def _next(self) -> Frame:
        """The next frame of rows; any other ending is a ``QueryRefused`` of one line."""
        try:
            frame = self._process.frame(None if self._deadline is None else self._deadline + GRACE)
        except TimeoutError:  # not even the interrupt ended it: close() kills it
            raise QueryRefused(self._limits.time_message()) from None
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise QueryRefused(self._limits.time_message())  # fetching and writing the result count
        if frame is None:
            memory, how = self._process.ending()
            if memory:
                raise QueryRefused(self._limits.memory_message(how))
            raise QueryRefused(f"{how} before the query ended")
        if frame[0] in ("columns", "rows", "end"):
            return frame
        raise QueryRefused(self._message(frame))

    def _message(self, frame: Frame) -> str:
        kind, *rest = frame
        if kind == "time":
            return self._limits.time_message()
        if kind == "memory":
            return self._limits.memory_message(rest[0] or "the query process ran out of memory")
        if kind == "refused":
            return str(rest[0])
        return f"the query process failed ({rest[0] if rest else kind})"


@contextmanager
def open_query(
    warehouse: Path, sql: str, limits: Limits | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[QueryStream]:
    """Check ``sql``, run it read-only under ``limits`` in a child process and hand back its result
    as a stream. The time limit covers the whole query, fetching included, until the block is left;
    the process is killed when the block is left."""
    limits = limits or Limits()
    statements = check_query(sql)
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `txpipe run` or `txpipe build` first")
    deadline = time.monotonic() + limits.timeout if limits.timeout else None
    spill = Path(tempfile.mkdtemp(prefix="txpipe-query-"))
    try:
        request = Request(
            warehouse=str(warehouse),
            statements=[statement.query for statement in statements],
            sql=sql,
            memory_limit=limits.memory_limit,
            address_space=limits.address_space,
            spill=str(spill),
            batch_rows=batch_rows,
            deadline=deadline,
            parent=os.getpid(),
        )
        process = QueryProcess(request)
        try:
            yield QueryStream(process, limits, deadline, batch_rows)
        finally:
            process.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def run_query(warehouse: Path, sql: str, limits: Limits | None = None, max_rows: int | None = None) -> QueryResult:
    """The whole result (or its first ``max_rows`` rows) of a read-only query."""
    with open_query(warehouse, sql, limits) as stream:
        rows, truncated = stream.rows(max_rows)
        return QueryResult(stream.columns, rows, truncated)
