"""Ingest flow: the library's ingest job (txpipe.jobs.ingest_job) under the run lock, its batches run as
concurrent tasks (one per large file or batch of small ones), its outcomes logged as they come."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from rich.progress import Progress

from flows.retries import retry_on_io_error
from flows.runtime import log_recovery, settings_or_environment
from txpipe.ingest import DeliveryDeferred, DeliveryFailed, IngestContext
from txpipe.ingest.batch import Outcome, ingest_batch
from txpipe.ingest.landing import Delivery
from txpipe.jobs.ingest_job import Batch, BatchRunner, IngestRun, ingest_new
from txpipe.jobs.run_job import exclusive_run
from txpipe.settings import Settings
from txpipe.store.totals import RunTotals
from txpipe.text import printable

Logger = logging.Logger | logging.LoggerAdapter[logging.Logger]


@task(
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io_error,
    task_run_name="ingest {deliveries[0].source}/{deliveries[0].source_file} (+{extra} more)",
)
def ingest_files(deliveries: list[Delivery], ctx: IngestContext, extra: int = 0) -> list[Outcome]:
    """One large delivery, or a batch of small ones (txpipe.ingest.batch)."""
    return ingest_batch(deliveries, ctx)


def as_tasks(workers: int) -> BatchRunner:
    """The batches as concurrent tasks, at most ``workers`` at once (TXPIPE_WORKERS), yielded as they end."""

    def run(batches: list[Batch], ctx: IngestContext) -> Iterator[tuple[Batch, list[Outcome] | BaseException]]:
        waiting = list(reversed(batches))
        running: dict[PrefectFuture[list[Outcome]], Batch] = {}
        with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
            bar = progress.add_task("ingesting", total=sum(len(batch) for batch in batches))
            while waiting or running:
                while waiting and len(running) < workers:
                    batch = waiting.pop()
                    running[ingest_files.submit(batch, ctx, extra=len(batch) - 1)] = batch
                future = next(as_completed(list(running)))
                batch = running.pop(future)
                try:
                    yield batch, future.result()
                except Exception as error:  # a bug outside any one delivery: leave them all for the next run
                    yield batch, error
                progress.advance(bar, len(batch))

    return run


def log_outcome(outcome: Outcome) -> None:
    log = get_run_logger()
    if isinstance(outcome, DeliveryDeferred):
        log.warning("%s", printable(str(outcome)))
    elif isinstance(outcome, DeliveryFailed):
        log.error("%s; it will be retried on the next run\n%s", printable(str(outcome)), outcome.traceback)
    else:
        log.info(
            "%s/%s: %s, read %d, stored %d, quarantined %d, duplicate %d%s",
            printable(outcome.source),
            printable(outcome.source_file),
            outcome.status_label,
            outcome.rows_read,
            outcome.rows_stored,
            outcome.rows_quarantined,
            outcome.rows_duplicate,
            f" ({printable(outcome.reason)})" if outcome.reason else "",
        )


def log_ingest(run: IngestRun, log: Logger) -> None:
    """Say what in the landing is not ingested (files outside a source folder, links and special files,
    files left for the next run), and the totals."""
    for entry in run.skipped:
        log.warning("skipped %s: %s", printable(entry.path), entry.reason)
    for deferred in run.deferred:
        log.warning("%s %s", printable(deferred["path"]), deferred["reason"])
    log.info("%d new deliveries under %s", run.planned - run.rejudged, run.landing)
    if run.rejudged:
        log.info("%d held deliveries judged again (their config, roster or reference data changed)", run.rejudged)
    if run.planned:
        log.info("totals %s; report %s", RunTotals.of(run.records), run.report)


def run_id() -> str:
    return str(flow_run.get_id() or "local")


@flow(name="txpipe-ingest", validate_parameters=False)
def ingest_flow(
    landing: str | None = None,
    sources: list[str] | None = None,
    wait_for_lock: bool = True,
    settings: Settings | None = None,
) -> IngestRun:
    """Ingest every new delivery under ``landing`` (default ``$TXPIPE_HOME/landing``)."""
    settings = settings_or_environment(settings)
    log = get_run_logger()
    with exclusive_run(settings, wait_for_lock, log.warning) as recovery:
        log_recovery(recovery, log)
        run = ingest_new(
            settings, landing, sources, run_id(), run_batches=as_tasks(settings.workers), on_outcome=log_outcome
        )
    log_ingest(run, log)
    if failure := run.failure():
        raise RuntimeError(printable(failure))
    return run
