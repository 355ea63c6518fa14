"""What every flow shares: Prefect settings for the flows a command-line process runs (the command line
starts flows; the library never imports Prefect), the settings a flow runs with, and the log of a recovery."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

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
