"""Prefect settings for the flows a command-line process runs (the command line starts flows; the
library never imports Prefect)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings


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
