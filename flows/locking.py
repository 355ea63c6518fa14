"""Every flow runs under the run lock and starts by cleaning up after any killed run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger

from txpipe.ops.recovery import recover
from txpipe.ops.runlock import run_lock, session
from txpipe.settings import Settings

_recovered: set[int] = set()  # lock sessions already cleaned up


@contextmanager
def exclusive_run(settings: Settings, wait: bool = True) -> Iterator[None]:
    """Hold the run lock; the first flow of a lock session cleans up after any killed run."""
    log = get_run_logger()
    with run_lock(settings.home, wait=wait, on_wait=log.warning):
        current = session(settings.home)
        if current not in _recovered:
            _recovered.add(current)
            cleaned = recover(settings)
            if cleaned.anything:
                log.warning("cleaned up after an interrupted run: %s", cleaned)
        yield
