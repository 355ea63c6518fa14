"""Ingest what is new under a landing: survey, ingest batch by batch, commit the ledger, report.

``ingest_new`` is the whole job. Who runs it chooses how the batches run (``run_batches``): in this
process one after the other (the default: tests, benchmarks, the library), or as concurrent Prefect
tasks (the ingest flow). Either way the ledger is committed here, from one thread, as each batch ends.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from txpipe.ingest import DeliveryDeferred, DeliveryFailed, IngestContext
from txpipe.ingest.batch import Outcome, ingest_batch, plan_batches
from txpipe.ingest.judgement import Judgements
from txpipe.ingest.landing import Delivery, Skipped, survey
from txpipe.outputs.reports import write_run_report
from txpipe.settings import Settings
from txpipe.store.lake import remove_lake_files
from txpipe.store.ledger import DeliveryRecord, Ledger

Batch = list[Delivery]
# Runs the batches and yields each with its outcomes (or the exception that ended it), in any order.
BatchRunner = Callable[[list[Batch], IngestContext], Iterable[tuple[Batch, list[Outcome] | BaseException]]]


def in_order(batches: list[Batch], ctx: IngestContext) -> Iterator[tuple[Batch, list[Outcome] | BaseException]]:
    """The batches one after the other, in this process."""
    for batch in batches:
        try:
            yield batch, ingest_batch(batch, ctx)
        except Exception as error:  # a bug outside any one delivery, as in a failed task
            yield batch, error


@dataclass
class IngestRun:
    """What one ingest did: the records committed, and everything left for later or never read."""

    landing: Path
    records: list[DeliveryRecord] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # batch ids the new records replaced
    failed: list[dict[str, str]] = field(default_factory=list)  # failed on a bug: retried next run
    deferred: list[dict[str, str]] = field(default_factory=list)  # still being written: next run
    skipped: list[Skipped] = field(default_factory=list)  # links, special files, files outside a source: never read
    planned: int = 0  # new deliveries found, and held ones judged again
    rejudged: int = 0  # held deliveries judged again (txpipe.ingest.judgement)
    # batches another worker committed first (its record counts; this run's files of them were removed)
    already_committed: list[str] = field(default_factory=list)
    report: Path | None = None

    def failure(self) -> str | None:
        """Why the ingest did not complete (some file failed on a bug), or None."""
        if not self.failed:
            return None
        names = ", ".join(f"{f['source']}/{f['source_file']} (stage {f['stage']})" for f in self.failed)
        return f"{len(self.failed)} file(s) could not be ingested and will be retried: {names}; see {self.report}"


def landing_root(settings: Settings, landing: str | Path | None) -> Path:
    """The landing root a job was given, else $TXPIPE_HOME/landing."""
    return Path(landing).resolve() if landing else settings.landing


def ingest_new(
    settings: Settings,
    landing: str | Path | None = None,
    sources: list[str] | None = None,
    run_id: str = "local",
    *,
    context: IngestContext | None = None,
    run_batches: BatchRunner = in_order,
    on_outcome: Callable[[Outcome], None] | None = None,
    reprocess: bool = False,
    files: Collection[str] | None = None,
) -> IngestRun:
    """Ingest every new delivery under ``landing``, judge again the held deliveries whose judgement is
    stale (all of those in scope with ``reprocess``; see txpipe.ingest.judgement), and commit each record
    to the ledger. With ``files`` (``source/path`` each: a work item of txpipe.jobs.plan_job) only those.

    ``on_outcome`` is told of every outcome as it is settled (a record, a DeliveryFailed, a
    DeliveryDeferred): the flow logs and draws progress with it. The run report is written when
    anything was ingested, failed, deferred or skipped.
    """
    root = landing_root(settings, landing)
    ledger = Ledger.of(settings)
    found = survey(root, ledger, sources, settings.sources_dir)
    run = IngestRun(root, skipped=found.skipped)
    run.deferred = [asdict(entry) for entry in found.deferred]
    judgements = Judgements(settings, root, ledger)
    again, left = judgements.stale(sources, reprocess, frozenset((d.source, d.source_file) for d in found.deliveries))
    todo = within([judgements.prepared(d) for d in found.deliveries] + again, files)
    run.skipped.extend(left)
    scope = Scope(sources, files)
    ctx = _judge(todo, settings, run, ledger, scope, context, run_id, run_batches, on_outcome)
    run_id = ctx.run_id if ctx else run_id
    if run.planned or run.skipped or run.deferred:
        skipped = [asdict(entry) for entry in run.skipped]
        run.report = write_run_report(
            settings.reports_dir,
            run_id,
            run.records,
            run.superseded,
            run.failed,
            skipped=skipped,
            deferred=run.deferred,
        )
    return run


def _judge(
    todo: list[Delivery],
    settings: Settings,
    run: IngestRun,
    ledger: Ledger,
    scope: Scope,
    context: IngestContext | None,
    run_id: str,
    run_batches: BatchRunner,
    on_outcome: Callable[[Outcome], None] | None,
) -> IngestContext | None:
    """Ingest the deliveries, then those the committed records made stale (an export's voids touch the
    source's other exports), pass after pass; a context is made (for ``run_id``) only if none is given
    and there is work."""
    ctx = context
    for _ in range(PASSES):
        if not todo:
            break
        ctx = ctx or IngestContext.create(settings, run_id)
        run.planned += len(todo)
        run.rejudged += sum(1 for d in todo if d.rejudges)
        _ingest_all(todo, ctx, run, ledger, run_batches, on_outcome)
        left_out = {f"{f['source']}/{f['source_file']}" for f in run.failed} | {d["path"] for d in run.deferred}
        stale = within(Judgements(settings, run.landing, ledger).stale(scope.sources)[0], scope.files)
        todo = [d for d in stale if f"{d.source}/{d.source_file}" not in left_out]
    return ctx


@dataclass(frozen=True)
class Scope:
    """What an ingest may touch: these sources (all when None), these files (all when None)."""

    sources: list[str] | None = None
    files: Collection[str] | None = None


def within(deliveries: list[Delivery], files: Collection[str] | None) -> list[Delivery]:
    """The deliveries of the given files (``source/path`` each; all when None)."""
    return deliveries if files is None else [d for d in deliveries if f"{d.source}/{d.source_file}" in files]


PASSES = 3  # new deliveries, then the exports their voids touch (a void never voids a void: two suffice)


def _ingest_all(
    todo: list[Delivery],
    ctx: IngestContext,
    run: IngestRun,
    ledger: Ledger,
    run_batches: BatchRunner,
    on_outcome: Callable[[Outcome], None] | None,
) -> None:
    for batch, result in run_batches(plan_batches(todo), ctx):
        outcomes = (
            [DeliveryFailed(d, "unknown", result) for d in batch] if isinstance(result, BaseException) else result
        )
        for outcome in outcomes:
            _settle(run, ledger, outcome)
            if on_outcome is not None:
                on_outcome(outcome)


def _settle(run: IngestRun, ledger: Ledger, outcome: Outcome) -> None:
    if isinstance(outcome, DeliveryDeferred):  # still being written: not a failure
        run.deferred.append(outcome.as_report())
    elif isinstance(outcome, DeliveryFailed):  # a bug, not bad data: retried on the next run
        run.failed.append(outcome.as_report())
    else:
        superseded = ledger.commit(outcome)  # the ledger is written from this one place
        if superseded is None:  # another worker committed this batch first: its files and record count
            remove_lake_files(ledger.store, outcome.files)
            run.already_committed.append(outcome.batch_id)
            return
        run.superseded.extend(previous.batch_id for previous in superseded)
        run.records.append(outcome)
