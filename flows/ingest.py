"""Ingest flow: discover new deliveries, ingest them (one task per large file or per group of small
ones), commit the ledger, summarise."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from rich.progress import Progress

from flows.locking import exclusive_run
from flows.retries import retry_on_io_error
from txpipe.ingest import DeliveryDeferred, DeliveryFailed, IngestContext
from txpipe.ingest.landing import Delivery, Skipped, skipped_entries, stray_files, survey
from txpipe.ingest.small_deliveries import Outcome, ingest_group, plan_groups
from txpipe.outputs.reports import totals, write_run_report
from txpipe.settings import Settings
from txpipe.store.ledger import DeliveryRecord, Ledger
from txpipe.text import printable


@task(
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_io_error,
    task_run_name="ingest {deliveries[0].source}/{deliveries[0].source_file} (+{extra} more)",
)
def ingest_files(deliveries: list[Delivery], ctx: IngestContext, extra: int = 0) -> list[Outcome]:
    """One large delivery, or a group of small ones judged together (txpipe.ingest.small_deliveries)."""
    return ingest_group(deliveries, ctx)


def _log_record(log, record: DeliveryRecord) -> None:
    log.info(
        "%s/%s: %s, read %d, stored %d, quarantined %d, duplicate %d%s",
        printable(record.source),
        printable(record.source_file),
        record.status,
        record.rows_read,
        record.rows_stored,
        record.rows_quarantined,
        record.rows_duplicate,
        f" ({printable(record.reason)})" if record.reason else "",
    )


def workers() -> int:
    """Deliveries ingested at once: TXPIPE_WORKERS, default the CPU count."""
    return int(os.environ.get("TXPIPE_WORKERS") or os.cpu_count() or 1)


@flow(name="txpipe-ingest", validate_parameters=False, task_runner=ThreadPoolTaskRunner(max_workers=workers()))
def ingest_flow(
    landing: str | None = None, sources: list[str] | None = None, wait_for_lock: bool = True
) -> list[DeliveryRecord]:
    """Ingest every new delivery under ``landing`` (default ``$TXPIPE_HOME/landing``)."""
    settings = Settings.from_env()
    with exclusive_run(settings, wait_for_lock):
        return _ingest(settings, landing, sources)


def landing_root(settings: Settings, landing: str | None) -> Path:
    """The landing root a flow was given, else $TXPIPE_HOME/landing."""
    return Path(landing).resolve() if landing else settings.landing


def warn_about_landing(landing_dir: Path, skipped: list[Skipped]) -> None:
    """Say what in the landing is not ingested: files outside a source folder, links and special files."""
    log = get_run_logger()
    if strays := stray_files(landing_dir):
        log.warning("not ingested, put them in a source folder: %s", printable(", ".join(strays)))
    for entry in skipped:
        log.warning("skipped %s: %s", printable(entry.path), entry.reason)


def warn_about_stray_files(landing_dir: Path, sources_dir: Path, sources: list[str] | None = None) -> None:
    warn_about_landing(landing_dir, skipped_entries(landing_dir, sources, sources_dir))


def _ingest(settings: Settings, landing: str | None, sources: list[str] | None) -> list[DeliveryRecord]:
    log = get_run_logger()
    landing_dir = landing_root(settings, landing)
    ledger = Ledger(settings.ledger_dir)
    found = survey(landing_dir, ledger, sources, settings.sources_dir)
    warn_about_landing(landing_dir, found.skipped)
    deferred = [asdict(entry) for entry in found.deferred]
    for entry in found.deferred:
        log.warning("%s %s", printable(entry.path), entry.reason)
    deliveries = found.deliveries
    log.info("%d new deliveries under %s", len(deliveries), landing_dir)
    if not deliveries:
        if found.skipped or deferred:
            write_run_report(
                settings.reports_dir,
                str(flow_run.get_id() or "local"),
                [],
                [],
                skipped=[asdict(e) for e in found.skipped],
                deferred=deferred,
            )
        return []
    ctx = IngestContext.create(settings, run_id=str(flow_run.get_id() or "local"))
    futures = {ingest_files.submit(group, ctx, extra=len(group) - 1): group for group in plan_groups(deliveries)}
    records, failed, superseded = [], [], []
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        bar = progress.add_task("ingesting", total=len(deliveries))
        for future in as_completed(list(futures)):
            group = futures[future]
            try:
                outcomes = future.result()
            except Exception as error:  # a bug outside any one delivery: leave them all for the next run
                outcomes = [DeliveryFailed(delivery, "unknown", error) for delivery in group]
            for outcome in outcomes:
                if isinstance(outcome, DeliveryDeferred):  # still being written: not a failure
                    log.warning("%s", printable(str(outcome)))
                    deferred.append(outcome.as_report())
                elif isinstance(outcome, DeliveryFailed):  # a bug, not bad data: retried on the next run
                    log.error("%s; it will be retried on the next run\n%s", printable(str(outcome)), outcome.traceback)
                    failed.append(outcome.as_report())
                else:
                    previous = ledger.commit(outcome)  # the ledger is written from this one place
                    if previous is not None:
                        superseded.append(previous.batch_id)
                    records.append(outcome)
                    _log_record(log, outcome)
            progress.advance(bar, len(group))
    report = write_run_report(
        settings.reports_dir,
        ctx.run_id,
        records,
        superseded,
        failed,
        skipped=[asdict(e) for e in found.skipped],
        deferred=deferred,
    )
    log.info("totals %s; report %s", totals(records), report)
    if failed:
        names = printable(", ".join(f"{f['source']}/{f['source_file']} (stage {f['stage']})" for f in failed))
        raise RuntimeError(f"{len(failed)} file(s) could not be ingested and will be retried: {names}; see {report}")
    return records
