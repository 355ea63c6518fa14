"""Ingest flow: the library's ingest job (txpipe.jobs.ingest_job), its batches run as concurrent tasks
(one per large file or batch of small ones), its outcomes logged as they come."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from rich.progress import Progress

from flows.locking import exclusive_run
from flows.retries import retry_on_io_error
from txpipe.ingest import DeliveryDeferred, DeliveryFailed, IngestContext
from txpipe.ingest.batch import Outcome, ingest_batch
from txpipe.ingest.landing import Delivery
from txpipe.jobs.ingest_job import Batch, IngestRun, ingest_new
from txpipe.settings import Settings
from txpipe.store.ledger import DeliveryRecord
from txpipe.store.totals import RunTotals
from txpipe.text import printable


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


def as_tasks(batches: list[Batch], ctx: IngestContext) -> Iterator[tuple[Batch, list[Outcome] | BaseException]]:
    """The batches as concurrent tasks (the flow's task runner bounds them), yielded as they end."""
    futures = {ingest_files.submit(batch, ctx, extra=len(batch) - 1): batch for batch in batches}
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        bar = progress.add_task("ingesting", total=sum(len(batch) for batch in batches))
        for future in as_completed(list(futures)):
            batch = futures[future]
            try:
                yield batch, future.result()
            except Exception as error:  # a bug outside any one delivery: leave them all for the next run
                yield batch, error
            progress.advance(bar, len(batch))


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
            outcome.status,
            outcome.rows_read,
            outcome.rows_stored,
            outcome.rows_quarantined,
            outcome.rows_duplicate,
            f" ({printable(outcome.reason)})" if outcome.reason else "",
        )


def warn_about_landing(run: IngestRun, log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
    """Say what in the landing is not ingested: files outside a source folder, links and special files,
    files left for the next run."""
    if run.strays:
        log.warning("not ingested, put them in a source folder: %s", printable(", ".join(run.strays)))
    for entry in run.skipped:
        log.warning("skipped %s: %s", printable(entry.path), entry.reason)
    for deferred in run.deferred:
        log.warning("%s %s", printable(deferred["path"]), deferred["reason"])


@flow(name="txpipe-ingest", validate_parameters=False, task_runner=ThreadPoolTaskRunner())
def ingest_flow(
    landing: str | None = None,
    sources: list[str] | None = None,
    wait_for_lock: bool = True,
    settings: Settings | None = None,
) -> list[DeliveryRecord]:
    """Ingest every new delivery under ``landing`` (default ``$TXPIPE_HOME/landing``)."""
    settings = settings or Settings.from_env()
    log = get_run_logger()
    with exclusive_run(settings, wait_for_lock):
        run_id = str(flow_run.get_id() or "local")
        run = ingest_new(settings, landing, sources, run_id, run_batches=as_tasks, on_outcome=log_outcome)
    warn_about_landing(run, log)
    log.info("%d new deliveries under %s", run.planned, run.landing)
    if run.planned:
        log.info("totals %s; report %s", RunTotals.of(run.records), run.report)
    if failure := run.failure():
        raise RuntimeError(printable(failure))
    return run.records


def ingest_flow_for(settings: Settings) -> Flow[..., list[DeliveryRecord]]:
    """The ingest flow with at most ``settings.workers`` deliveries ingested at once (TXPIPE_WORKERS)."""
    return ingest_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=settings.workers))
