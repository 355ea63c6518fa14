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
from urllib.parse import urlsplit, urlunsplit

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from txpipe.ops.prefect_server import forget_temporary_server, record_temporary_server, watch_temporary_server
from txpipe.ops.recovery import Recovery
from txpipe.settings import Settings, unwritable_folder


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
    reads the TXPIPE_ variables of the environment it runs in (a TXPIPE_HOME it cannot write in fails
    the run at once, with the reason as its message)."""
    if settings is not None:
        return settings
    settings = Settings.from_env()
    if why := unwritable_folder(settings.home):
        raise ValueError(why)
    return settings


def prefect_api_problem() -> str | None:
    """Why the Prefect API that PREFECT_API_URL names (in the environment or a Prefect profile) cannot run
    this process's flows, or None: none is named (a temporary server), or it answers its health check.
    Asked with Prefect's own client, so its TLS, auth and retry settings apply as they will to the flow.
    The reason shows the URL (configuration), without any user name or password in it."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return None
    from prefect.client.orchestration import get_client  # only now: a temporary server's start waits for none of it

    try:
        with get_client(sync_client=True) as client:
            error = client.api_healthcheck()
    except Exception as raised:  # a URL httpx cannot even use
        error = raised
    if error is None:
        return None
    return (
        f"Prefect's API at {_without_credentials(url)} cannot be reached ({type(error).__name__}); "
        "start that server, or unset PREFECT_API_URL to run on a temporary one"
    )


def _without_credentials(url: str) -> str:
    try:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url
    except ValueError:
        return "(a URL that cannot be parsed)"


def log_recovery(recovery: Recovery, log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
    if recovery.anything:
        log.warning("cleaned up after an interrupted run: %s", recovery)


def start_temporary_server(home: Path) -> threading.Thread | None:
    """Start Prefect's temporary server now, on a thread (its own process boots in about 3 s, while the
    command goes on importing and setting GX up), noted in ``home`` and watched by a small process of
    its own that stops it should this command be killed (a later command of the home stops it too,
    should the watcher be gone as well); the flow then finds it running. Its module is imported here, before the
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
                watch_temporary_server(home)

    thread = threading.Thread(target=start, name="prefect-server-start")
    thread.start()
    return thread
