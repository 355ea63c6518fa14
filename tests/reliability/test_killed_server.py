"""Issue 23: a killed `txpipe run` must not leave its temporary Prefect server running. SIGTERM stops it
on the way out; after a SIGKILL (which cannot be caught) its watcher stops it, and should the watcher be
killed too, the next command of the same home stops it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_LANDING

pytestmark = [pytest.mark.integration, pytest.mark.deep]
RECORD = ".txpipe-server.json"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and " Z " not in stat.read_text()[:200]


def start_run(tmp_path: Path, home: Path) -> tuple[subprocess.Popen, int]:
    """`txpipe run` on a copy of the sample; returns it and its server's pid once the server is up."""
    landing = tmp_path / "landing"
    if not landing.exists():
        shutil.copytree(SAMPLE_LANDING, landing)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(TXPIPE_HOME=str(home), TXPIPE_PSEUDONYM_KEY="kill", PREFECT_HOME=str(tmp_path / "prefect"))
    run = subprocess.Popen(
        [sys.executable, "-m", "txpipe", "run", "--landing", str(landing)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        if (server := server_of(run.pid)) is not None and answers(server):
            time.sleep(0.5)
            return run, server
        time.sleep(0.05)
    run.kill()
    raise AssertionError("the run never started a temporary server")


def server_of(parent: int) -> int | None:
    """The pid of the temporary Prefect server a process started (found in /proc, not from txpipe)."""
    return child_of(parent, b"prefect.server.api.server:create_app")


def watcher_of(parent: int) -> int | None:
    return child_of(parent, b"txpipe-server-watch")


def child_of(parent: int, mark: bytes) -> int | None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and mark in command:
            return int(stat.parent.name)
    return None


def answers(pid: int) -> bool:
    """Whether the server (its port read from its command line) answers its health check."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    port = command[command.index(b"--port") + 1].decode()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def test_sigterm_stops_the_temporary_server(tmp_path):
    home = tmp_path / "home"
    run, server = start_run(tmp_path, home)
    run.send_signal(signal.SIGTERM)
    run.wait(timeout=60)
    assert gone_within(server, 30), "the temporary server outlived its SIGTERMed run"
    assert not (home / RECORD).exists()  # the note of the server goes with it


def test_the_server_of_a_sigkilled_run_is_stopped_by_its_watcher(tmp_path):
    home = tmp_path / "home"
    run, server = start_run(tmp_path, home)
    assert watcher_of(run.pid) is not None
    run.kill()
    run.wait(timeout=60)
    assert gone_within(server, 20), "the temporary server outlived its SIGKILLed run"


def test_the_next_command_stops_the_server_a_sigkilled_run_left(tmp_path):
    """The run and its watcher both SIGKILLed (a whole process tree killed): the next command stops it."""
    home = tmp_path / "home"
    run, server = start_run(tmp_path, home)
    watcher = watcher_of(run.pid)
    assert watcher is not None
    os.kill(watcher, signal.SIGKILL)
    run.kill()
    run.wait(timeout=60)
    time.sleep(1)
    assert alive(server), "no orphan to stop: the test shows nothing"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(TXPIPE_HOME=str(home), TXPIPE_PSEUDONYM_KEY="kill", PREFECT_HOME=str(tmp_path / "prefect"))
    subprocess.run(
        [sys.executable, "-m", "txpipe", "run", "--landing", str(tmp_path / "landing")],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert gone_within(server, 30), "the next run did not stop the server the killed one left"
