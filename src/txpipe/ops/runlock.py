"""One run at a time per TXPIPE_HOME: an advisory lock the kernel releases when the holder dies.

``fcntl.flock`` on ``$TXPIPE_HOME/.txpipe.lock``: a run killed by SIGKILL or a power cut leaves no
lock behind, so a stale lock can never block forever. The lock file records who holds it, for the
message the waiting run prints. A run takes it once (txpipe.jobs.run_job.exclusive_run); taking it
again within the process that holds it is a bug, refused at once (it would wait for itself).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".txpipe.lock"

_process_lock = threading.Lock()
_held: set[str] = set()  # lock paths this process holds


class RunLocked(RuntimeError):
    """Another run holds the lock and we were told not to wait (or waited too long)."""


def lock_path(home: Path) -> Path:
    return home / LOCK_FILE


def held_here(home: Path) -> bool:
    """Whether this process holds the lock for ``home``."""
    with _process_lock:
        return str(lock_path(home)) in _held


def holder(home: Path) -> dict[str, object] | None:
    """Who holds (or last held) the lock, as recorded in the lock file."""
    try:
        text = lock_path(home).read_text(encoding="utf-8")
        info: dict[str, object] | None = json.loads(text) if text.strip() else None
        return info
    except (OSError, ValueError):
        return None


def _describe(info: dict[str, object] | None) -> str:
    if not info:
        return "another txpipe run"
    return f"txpipe run pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"


def _acquire(
    fd: int,
    home: Path,
    wait: bool,
    timeout: float | None,
    on_wait: Callable[[str], None] | None,
    poll_seconds: float,
) -> None:
    """Take the kernel lock on ``fd``: at once, or, with ``wait``, polling until the holder lets go
    (``on_wait`` is told once) or ``timeout`` seconds pass. ``RunLocked`` when not taken."""
    started = time.monotonic()
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            who = _describe(holder(home))
            if not wait:
                raise RunLocked(f"{who} is active on {home}; not waiting (use --wait to queue)") from None
            if timeout is not None and time.monotonic() - started > timeout:
                raise RunLocked(f"{who} still active on {home} after {timeout:.0f} s") from None
            if on_wait and not told:
                on_wait(f"{who} is active on {home}; waiting for it to finish")
                told = True
            time.sleep(poll_seconds)


def _record_holder(fd: int) -> None:
    """Write who holds the lock (this process) into the lock file, for :func:`holder`."""
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)


def _register(key: str) -> None:
    """Note the lock at ``key`` as held by this process; a second hold is a bug."""
    with _process_lock:
        if key in _held:
            raise RuntimeError(f"the run lock {key} is already held by this process")
        _held.add(key)


def _unregister(key: str) -> None:
    with _process_lock:
        _held.discard(key)


@contextmanager
def run_lock(
    home: Path,
    wait: bool = True,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    poll_seconds: float = 0.5,
) -> Iterator[None]:
    """Hold the run lock for the duration of the block."""
    path = lock_path(home)
    key = str(path)
    _register(key)
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except BaseException:
        _unregister(key)
        raise
    try:
        _acquire(fd, home, wait, timeout, on_wait, poll_seconds)
        _record_holder(fd)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # the file names no holder once none holds it
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        _unregister(key)
