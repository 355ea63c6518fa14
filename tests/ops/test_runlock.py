"""One run at a time: a second run waits or exits clearly, and a killed run's lock never blocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from txpipe.ops.runlock import RunLocked, held_here, run_lock

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from txpipe.ops.runlock import run_lock
    with run_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold(home, seconds):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_second_run_exits_clearly_or_waits(tmp_path):
    holder = hold(tmp_path, 2)
    with (
        pytest.raises(RunLocked, match=rf"pid {holder.pid} .* is active on .*not waiting"),
        run_lock(tmp_path, wait=False),
    ):
        pass
    messages = []
    started = time.monotonic()
    with run_lock(tmp_path, wait=True, timeout=30, on_wait=messages.append):
        waited = time.monotonic() - started
    assert waited > 0.5 and messages and "waiting" in messages[0]
    holder.wait(timeout=10)


def test_wait_timeout(tmp_path):
    holder = hold(tmp_path, 5)
    with pytest.raises(RunLocked, match="still active"), run_lock(tmp_path, wait=True, timeout=0.5, poll_seconds=0.1):
        pass
    holder.kill()
    holder.wait()


def test_lock_of_a_killed_run_is_free_at_once(tmp_path):
    holder = hold(tmp_path, 60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with run_lock(tmp_path, wait=False):
        assert held_here(tmp_path)
    assert not held_here(tmp_path)


def test_a_second_hold_within_the_process_is_refused_not_waited_for(tmp_path):
    with run_lock(tmp_path, wait=False):
        with pytest.raises(RuntimeError, match="already held by this process"), run_lock(tmp_path, wait=True):
            pass
        assert held_here(tmp_path)
    assert not held_here(tmp_path)
    with run_lock(tmp_path, wait=False):  # and it is free again
        assert held_here(tmp_path)


def test_cli_no_wait_exits_3_with_a_message(tmp_path):
    holder = hold(tmp_path / "home", 30)
    env = {**os.environ, "TXPIPE_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "txpipe", "run", "--no-wait", "--landing", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    holder.kill()
    holder.wait()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Not started" in result.stdout and f"pid {holder.pid}" in result.stdout
