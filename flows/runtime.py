"""What every flow shares: Prefect settings for the flows a command-line process runs (the command line
starts flows; the library never imports Prefect), the settings a flow runs with, and the log of a recovery."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from txpipe.ops.prefect_server import forget_temporary_server, record_temporary_server
from txpipe.ops.recovery import Recovery
from txpipe.settings import Settings


@contextmanager
def prefect_run_settings() -> Iterator[None]:
    """Settings for flows this process runs. On the temporary server, no flow-run heartbeats: they
    exist to spot crashed runs on a lasting server, and each flow would wait up to 1 s at its end
    for the heartbeat thread to notice it finished."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def settings_or_environment(settings: Settings | None) -> Settings:
    """The settings the command line gave the flow; a scheduled run (a deployment) is given none and
    reads the TXPIPE_ variables of the environment it runs in."""
    return settings if settings is not None else Settings.from_env()


def log_recovery(recovery: Recovery, log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
    if recovery.anything:
        log.warning("cleaned up after an interrupted run: %s", recovery)


def start_temporary_server(home: Path) -> threading.Thread | None:
    """Start Prefect's temporary server now, on a thread (its own process boots in about 3 s, while the
    command goes on importing and setting GX up), noted in ``home`` so that a later command can stop it
    should this one be killed; the flow then finds it running. Its module is imported here, before the
    thread starts (imports contend for the interpreter). None with PREFECT_API_URL set (no temporary
    server) or should the early start fail (the flow then starts the server itself, as it always would)."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    try:
        from prefect.server.api.server import SubprocessASGIServer  # what Prefect's client starts
    except Exception:
        return None

    def start() -> None:
        with contextlib.suppress(Exception):
            server = SubprocessASGIServer()
            server.start()
            if server.server_process is not None:
                record_temporary_server(home, server.server_process.pid)
                atexit.register(forget_temporary_server, home)

    thread = threading.Thread(target=start, name="prefect-server-start")
    thread.start()
    return thread
