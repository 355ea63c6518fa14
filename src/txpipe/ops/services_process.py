"""Process bookkeeping of :mod:`txpipe.ops.services`: free ports, pid files, starting a service in a session
of its own and stopping its whole process group."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from txpipe.ops.prefect_server import _alive, _command_line

ORDER = ("seaweedfs", "postgres", "prefect")  # the start order; stopped in reverse
MARKS = {"seaweedfs": "weed", "postgres": "postgres", "prefect": "prefect"}  # in each one's command line
STOP_TIMEOUT = 30.0
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # the ones this process started (reaped when they stop)


class ServicesError(RuntimeError):
    pass


def ports(scratch: Path, names: tuple[str, ...]) -> dict[str, int]:
    """A port of 127.0.0.1 for each name: the one it had last time in this scratch folder (so that the env
    file and SeaweedFS's master folder stay the same) unless that is taken now, else a free one."""
    noted = scratch / "ports.json"
    try:
        known = {k: v for k, v in json.loads(noted.read_text()).items() if isinstance(v, int)}
    except (OSError, ValueError, AttributeError):
        known = {}
    with contextlib.ExitStack() as stack:
        held: dict[str, int] = {}
        for name in names:
            probe = stack.enter_context(socket.socket())
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            with contextlib.suppress(OSError):
                probe.bind(("127.0.0.1", known.get(name, 0)))
            if probe.getsockname()[1] == 0 or probe.getsockname()[1] in held.values():  # taken: any free one
                probe.close()
                probe = stack.enter_context(socket.socket())
                probe.bind(("127.0.0.1", 0))
            held[name] = probe.getsockname()[1]
    noted.write_text(json.dumps(known | held, indent=1))
    return held


def pid_file(scratch: Path, name: str) -> Path:
    return scratch / f"{name}.pid"


def read_pid(scratch: Path, name: str) -> int | None:
    try:
        return int(pid_file(scratch, name).read_text().strip())
    except (OSError, ValueError):
        return None


def ours(pid: int, name: str) -> bool:
    return _alive(pid) and MARKS[name] in _command_line(pid)


def running(scratch: Path) -> dict[str, int]:
    """The services of the scratch folder whose pid files name a live process of theirs."""
    pids = {name: read_pid(scratch, name) for name in ORDER}
    return {name: pid for name, pid in pids.items() if pid is not None and ours(pid, name)}


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[2] == str(pgid) and fields[0] not in "ZX":
                found.append(int(stat.parent.name))
    return found


def stop_group(pgid: int, sig: signal.Signals, timeout: float = STOP_TIMEOUT) -> bool:
    """Signal a started service's whole process group; SIGKILL it after ``timeout``. True once it is gone."""
    for each, wait in ((sig, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, each)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if pgid in _CHILDREN:
                _CHILDREN[pgid].poll()  # reap it
            if not _group(pgid):
                _CHILDREN.pop(pgid, None)
                return True
            time.sleep(0.1)
    return False


def spawn(scratch: Path, name: str, command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start a service in a session of its own, its output in ``<scratch>/<name>.log``; note its pid."""
    with (scratch / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=scratch,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    note(scratch, name, process)
    return process


def note(scratch: Path, name: str, process: subprocess.Popen[bytes]) -> None:
    """Write the service's pid file (and keep its process, to reap it when it stops)."""
    _CHILDREN[process.pid] = process
    pid_file(scratch, name).write_text(f"{process.pid}\n")
