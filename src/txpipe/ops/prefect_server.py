"""Prefect's environment defaults, and a local Prefect server process (for `txpipe serve --start-server`).

:func:`apply_prefect_defaults` is the one place those defaults are set (project-local state, no
analytics, a quiet server, idle services off on a throw-away server); the command line and the
tests call it before Prefect is imported. Plain process management otherwise: it starts the
`prefect` command-line server on 127.0.0.1 and never imports Prefect itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from txpipe.settings import REPO_ROOT

# Server services that the throw-away server of a one-off run can do without (txpipe's CLI turns
# them off for it); a server that keeps run history and fires schedules needs every one of them.
TEMPORARY_SERVER_IDLE_SERVICES = (
    "TASK_RUN_RECORDER",
    "CANCELLATION_CLEANUP",
    "DB_VACUUM",
    "EVENT_PERSISTER",
    "EVENT_LOGGER",
    "FOREMAN",
    "LATE_RUNS",
    "SCHEDULER",
    "PAUSE_EXPIRATIONS",
    "REPOSSESSOR",
    "CLEANUP_RECONCILER",
    "TRIGGERS",
)
TEMPORARY_ONLY = tuple(f"PREFECT_SERVER_SERVICES_{name}_ENABLED" for name in TEMPORARY_SERVER_IDLE_SERVICES)

PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # offline: nothing is sent anywhere
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",  # the temporary server's own log stays off the console
}


def apply_prefect_defaults(
    environ: MutableMapping[str, str] | None = None, prefect_home: Path | None = None, idle_services: bool = True
) -> None:
    """Project-local Prefect state (``.prefect`` in the checkout unless PREFECT_HOME is set), quiet and
    offline, and (with ``idle_services``) a temporary server without its idle services unless
    PREFECT_API_URL names a server. Values already set win."""
    env = os.environ if environ is None else environ
    env.setdefault("PREFECT_HOME", str(prefect_home or REPO_ROOT / ".prefect"))
    for name, value in PREFECT_DEFAULTS.items():
        env.setdefault(name, value)
    if idle_services and not env.get("PREFECT_API_URL"):
        # The temporary server lives for one run: none of its background services (schedules,
        # late runs, event persistence, task-run history, ...) has anything to do, and on a
        # 2-core machine they take CPU from the run (and ~1 s from its start).
        for name in TEMPORARY_ONLY:
            env.setdefault(name, "false")


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"the Prefect server at {url} was not healthy after {timeout:.0f} s")


def start_server(port: int, env: Mapping[str, str] | None = None, **popen: Any) -> tuple[subprocess.Popen[bytes], str]:
    """Start `prefect server start` on 127.0.0.1:port in its own process group; wait until healthy."""
    prefect = Path(sys.executable).parent / "prefect"
    env = {k: v for k, v in (env or os.environ).items() if k != "PREFECT_API_URL" and k not in TEMPORARY_ONLY}
    process = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        start_new_session=True,
        **popen,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(url, process)
    except BaseException:
        stop_process(process)
        raise
    return process, url


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Ctrl-C the process group (a Prefect worker ignores SIGTERM); SIGKILL if it hangs."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def local_server(port: int = 4200) -> Iterator[str]:
    """A `prefect server start` on 127.0.0.1:port for the block; PREFECT_API_URL points at it."""
    process, url = start_server(port)
    try:
        os.environ["PREFECT_API_URL"] = url
        for name in TEMPORARY_ONLY:
            os.environ.pop(name, None)
        yield url
    finally:
        stop_process(process)


SERVER_RECORD = ".txpipe-server.json"  # in TXPIPE_HOME: the temporary server a running command started
SERVER_MARK = "prefect.server.api.server:create_app"  # in the command line of Prefect's temporary server


def record_temporary_server(home: Path, pid: int) -> None:
    """Note the temporary server this command started, so that a later command can stop it should this
    one be killed before it stops the server itself."""
    home.mkdir(parents=True, exist_ok=True)
    noted = {"pid": pid, "parent": os.getpid(), "started": _start_time(pid)}
    (home / SERVER_RECORD).write_text(json.dumps(noted), encoding="utf-8")


def forget_temporary_server(home: Path) -> None:
    (home / SERVER_RECORD).unlink(missing_ok=True)


WATCH_MARK = "txpipe-server-watch"  # in the command line of the watcher


def watch_temporary_server(home: Path) -> subprocess.Popen[bytes]:
    """Tie the noted temporary server to its command: a small process of its own session (it outlives a
    SIGKILL of the command and of its process group) stops the server as soon as the command is gone,
    and ends by itself once the command forgets the server (it stopped it) or another one is noted."""
    code = "import sys; from txpipe.ops.prefect_server import watch; watch(sys.argv[1])"
    return subprocess.Popen(
        [sys.executable, "-c", code, str(home), WATCH_MARK],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def watch(home: str, interval: float = 0.5) -> None:
    """The watcher's loop (see watch_temporary_server)."""
    record = Path(home) / SERVER_RECORD
    noted = _read_note(record)
    while noted is not None and _read_note(record) == noted:
        if not _alive(int(noted["parent"])):
            reap_stale_server(Path(home))
            return
        time.sleep(interval)


def _read_note(record: Path) -> dict[str, Any] | None:
    try:
        noted = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return noted if isinstance(noted, dict) else None


def reap_stale_server(home: Path) -> int | None:
    """Stop the temporary server a killed command of this home left running (its parent is gone, and the
    process is still the one noted: same start time, Prefect's server command); return its pid, or None."""
    try:
        noted = _read_note(home / SERVER_RECORD) or {}
        pid, parent, started = int(noted["pid"]), int(noted["parent"]), noted["started"]
    except (ValueError, KeyError, TypeError):
        return None
    stale = not _alive(parent) and started and _start_time(pid) == started and SERVER_MARK in _command_line(pid)
    if stale:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + 10
            while _alive(pid) and time.time() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    forget_temporary_server(home)
    return pid if stale else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()[:200]


def _start_time(pid: int) -> str | None:
    """When the process started (clock ticks since boot, /proc/<pid>/stat): a recycled pid differs."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
