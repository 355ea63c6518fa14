"""The child process a query runs in, so that the operating system bounds its memory and its time.

DuckDB's ``memory_limit`` caps only its buffer manager and its interrupt is checked only between
operators, so one scalar call (``damerau_levenshtein``, ``repeat``, ``range`` of huge arguments)
ignores both. ``txpipe.warehouse.query`` runs every query in a child of the same Python (``QueryProcess``):

- its address space is capped (``RLIMIT_AS``, soft and hard) at the memory limit plus
  ``OVERHEAD_BYTES``, what the interpreter, DuckDB and a connection take before any query (README
  "Querying": how it was measured), with at most two malloc arenas and ``MAX_THREADS`` DuckDB threads;
- at the time limit its own timer interrupts the connection, and the parent kills it (SIGKILL)
  ``GRACE`` seconds later if that did not end it; the parent also kills it when it leaves the query,
  and Linux kills it when the parent dies (``PR_SET_PDEATHSIG``); it writes no core file;
- it reads its request as JSON on stdin and writes frames on a pipe, each an 8-byte length and a
  pickle: ``("columns", names)``, ``("rows", batch)`` ..., ``("end",)``, or one of ``("refused", line)``,
  ``("time",)``, ``("memory", line)``, ``("failed", name)``. The parent unpickles only DuckDB's types.
"""

from __future__ import annotations

import ctypes
import io
import json
import math
import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import threading
import time
import zoneinfo
from pathlib import Path
from typing import Any, TypedDict, cast

import duckdb

from txpipe.warehouse.query_errors import QueryRefused, first_line

OVERHEAD_BYTES = 512 * 2**20  # address space of the child before its query (README "Querying")
MAX_THREADS = 8  # DuckDB threads in the child: each takes a stack, which the overhead must hold
GRACE = 1.0  # seconds between the interrupt at the time limit and SIGKILL
EXIT_MEMORY = 3  # the child's exit status when it ran out of memory and could not say so
EXIT_FAILED = 4  # ... when anything else stopped it before it could say so

Frame = tuple[Any, ...]
_HEAD = 8  # bytes of a frame's length
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the txpipe package
_BOOT = (  # the parent's txpipe first, and not the working folder ("" for -c)
    "import sys; sys.path[:] = [sys.argv[1], *(p for p in sys.path if p)]; "
    "from txpipe.warehouse.query_process import main; main()"
)
_OUT_OF_MEMORY = ("bad_alloc", "Allocation failure", "Cannot allocate memory")


class Request(TypedDict):
    warehouse: str
    statements: list[str]  # run in turn; the last one's result is sent
    sql: str  # the user's text, to tell their own values from the data's in messages
    memory_limit: str
    address_space: int  # bytes
    spill: str
    batch_rows: int
    deadline: float | None  # time.monotonic() (one clock for every process on Linux)
    parent: int


class QueryProcess:
    """The parent's handle on a query's child: start it, read its frames, end it."""

    def __init__(self, request: Request) -> None:
        if not sys.executable:
            raise QueryRefused("the query process cannot be started: no Python interpreter path")
        self._fd, write_fd = os.pipe()
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        args = [sys.executable, "-c", _BOOT, str(_PACKAGE_ROOT), str(write_fd)]
        quiet = subprocess.DEVNULL
        try:
            self._popen = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=quiet, stderr=quiet, pass_fds=(write_fd,), env=env
            )
        except OSError as error:
            os.close(self._fd)
            raise QueryRefused(f"the query process could not be started ({type(error).__name__})") from None
        finally:
            os.close(write_fd)
        try:
            assert self._popen.stdin is not None
            with self._popen.stdin as stdin:
                stdin.write(json.dumps(request).encode())
        except OSError:  # it ended before it read its request: its frames say nothing, its end tells
            pass

    def frame(self, deadline: float | None) -> Frame | None:
        """The next frame, or None if the child ended without one; TimeoutError past ``deadline``."""
        if self._fd < 0:
            raise QueryRefused("the query has ended: its rows are read inside its `with` block")
        head = self._read(_HEAD, deadline)
        body = None if head is None else self._read(int.from_bytes(head, "big"), deadline)
        if body is None:
            return None
        try:
            return cast(Frame, _Unpickler(io.BytesIO(body)).load())
        except pickle.UnpicklingError as error:
            raise QueryRefused(f"a value in the result cannot be passed back ({error})") from None

    def _read(self, size: int, deadline: float | None) -> bytes | None:
        data = bytearray()
        poll = select.poll()  # not select(): any descriptor number, however many the caller has open
        poll.register(self._fd, select.POLLIN)
        while len(data) < size:
            wait = None if deadline is None else max(0, math.ceil((deadline - time.monotonic()) * 1000))
            if not poll.poll(wait):
                raise TimeoutError
            chunk = os.read(self._fd, min(size - len(data), 1 << 20))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    def ending(self) -> tuple[bool, str]:
        """Once the child ended without a last frame: whether memory ended it, and how it ended."""
        try:
            code = self._popen.wait(GRACE)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            code = self._popen.wait()
        if code < 0:  # the cap made an allocation fail where nothing catches it, or the system's OOM killer
            name = next((s.name for s in signal.Signals if s == -code), f"signal {-code}")
            return True, f"the query process was killed by {name}"
        return code == EXIT_MEMORY, f"the query process ended with status {code}"

    def close(self) -> None:
        """Kill the child if it still runs (what it does is read-only) and reap it."""
        if self._popen.poll() is None:
            self._popen.kill()
        self._popen.wait()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _zoneinfo_getattr(owner: object, name: str) -> object:
    """The one ``getattr`` a pickle of DuckDB's values needs (``ZoneInfo._unpickle``)."""
    if owner is zoneinfo.ZoneInfo and name == "_unpickle":
        return zoneinfo.ZoneInfo._unpickle  # type: ignore[attr-defined]
    raise pickle.UnpicklingError("builtins.getattr")


class _Unpickler(pickle.Unpickler):
    """Rebuilds the values DuckDB hands to Python, and nothing else."""

    ALLOWED = frozenset(
        {("decimal", "Decimal"), ("uuid", "UUID"), ("uuid", "SafeUUID"), ("zoneinfo", "ZoneInfo")}
        | {("datetime", name) for name in ("date", "datetime", "time", "timedelta", "timezone")}
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _zoneinfo_getattr
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


# --- the child --------------------------------------------------------------------------------------


def main() -> None:
    """The child's entry point: run the request on stdin, write frames to the pipe in argv."""
    try:
        out = int(sys.argv[2])
        request = cast(Request, json.loads(sys.stdin.buffer.read()))
        _die_with_parent(request["parent"])
        _cap_memory(request["address_space"])
        _serve(request, out)
    except MemoryError:
        os._exit(EXIT_MEMORY)
    except BaseException:  # nothing to tell it with: the parent reads the status
        os._exit(EXIT_FAILED)
    os._exit(0)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before we asked
        os._exit(EXIT_FAILED)


def _cap_memory(address_space: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    cap = min(address_space, 2**63 - 1) if hard == resource.RLIM_INFINITY else min(address_space, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _send(out: int, frame: Frame) -> None:
    body = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(body).to_bytes(_HEAD, "big") + body)
    while view:
        view = view[os.write(out, view) :]


class _TimeUp(Exception):
    pass


class _Watchdog:
    """Interrupts the connection at the deadline (the parent kills the process if that is not enough)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, deadline: float | None) -> None:
        self.con, self.fired, self.done = con, False, False
        self._lock = threading.Lock()
        self._timer = None
        if deadline is not None:
            self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
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
            raise _TimeUp


def _serve(request: Request, out: int) -> None:
    from txpipe.warehouse.query import connect_read_only  # imports this module: not at the top

    watchdog = None
    try:
        threads, spill = min(os.cpu_count() or 1, MAX_THREADS), Path(request["spill"])
        con = connect_read_only(Path(request["warehouse"]), request["memory_limit"], spill, threads)
        watchdog = _Watchdog(con, request["deadline"])
        try:
            _stream(con, request, watchdog, out)
        finally:
            watchdog.stop()
            con.close()
    except Exception as error:
        _send(out, _failure(error, request["sql"], watchdog))


def _stream(con: duckdb.DuckDBPyConnection, request: Request, watchdog: _Watchdog, out: int) -> None:
    *before, last = request["statements"]
    for statement in before:
        con.execute(statement)
        watchdog.check()
    cursor = con.execute(last)
    watchdog.check()
    _send(out, ("columns", [d[0] for d in cursor.description or []]))
    while batch := cursor.fetchmany(request["batch_rows"]):
        watchdog.check()
        _send(out, ("rows", batch))
    watchdog.check()
    _send(out, ("end",))


def _failure(error: Exception, sql: str, watchdog: _Watchdog | None) -> Frame:
    """The frame that tells the parent why the query ended; every message is one line."""
    if watchdog is not None and watchdog.fired:
        return ("time",)
    if isinstance(error, MemoryError):
        return ("memory", "")
    if isinstance(error, duckdb.OutOfMemoryException) or (  # or an allocation DuckDB did not expect to fail
        isinstance(error, duckdb.InternalException | duckdb.FatalException)
        and any(s in str(error) for s in _OUT_OF_MEMORY)
    ):
        return ("memory", first_line(error, sql))
    if isinstance(error, QueryRefused | FileNotFoundError):
        return ("refused", str(error))
    if isinstance(error, duckdb.InterruptException):
        return ("refused", "the query was interrupted")
    if isinstance(error, duckdb.PermissionException):
        return (
            "refused",
            "txpipe query cannot read or write files, attach databases or load extensions: " + first_line(error, sql),
        )
    if isinstance(error, duckdb.Error):
        return ("refused", first_line(error, sql))
    if isinstance(error, ValueError | OverflowError | TypeError | UnicodeError):
        # a value DuckDB produced that Python cannot represent; the message may quote it
        return ("refused", f"a value in the result cannot be converted for Python ({type(error).__name__})")
    if isinstance(error, OSError):
        raise error  # the pipe: the parent is gone or stopped reading
    return ("failed", type(error).__name__)
