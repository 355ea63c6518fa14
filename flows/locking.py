"""Every flow runs under the run lock and starts by cleaning up after any killed run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger

from txpipe.recovery import recover
from txpipe.runlock import held_here, run_lock
from txpipe.settings import Settings


@contextmanager
def exclusive_run(settings: Settings, wait: bool = True) -> Iterator[None]:
    log = get_run_logger()
    outermost = not held_here(settings.home)
    with run_lock(settings.home, wait=wait, on_wait=log.warning):
        if outermost:
            cleaned = recover(settings)
            if cleaned.anything:
                log.warning("cleaned up after an interrupted run: %s", cleaned)
        yield
