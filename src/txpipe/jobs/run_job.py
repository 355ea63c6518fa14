"""The main job as one object: :func:`run_pipeline` takes the run lock once, cleans up after a killed
run, decides whether anything is to be done, ingests, builds and publishes, and returns a
:class:`RunReport` that says all of it: what was ingested, left for later or never read, what was
published, what needs a human, and where the seconds went.

Who runs it chooses how the stages run (:class:`Runner`): in this process (the default: tests,
benchmarks, the library), or as Prefect tasks (the pipeline flow). The decisions are made here only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from txpipe.ingest.batch import Outcome
from txpipe.ingest.judgement import Judgements
from txpipe.ingest.landing import anything_new, skipped_entries
from txpipe.jobs.build_job import BuildPlan, BuildResult, build, kept_build, plan_build
from txpipe.jobs.ingest_job import BatchRunner, IngestRun, in_order, ingest_new, landing_root
from txpipe.ops.health import run_problems, source_limits
from txpipe.ops.recovery import Recovery, recover
from txpipe.ops.runlock import run_lock
from txpipe.outputs.validation_report import Standing
from txpipe.settings import Settings
from txpipe.store.ledger import DeliveryRecord, Ledger
from txpipe.warehouse.publish import PublishedBuild, current_build


@dataclass(frozen=True)
class Runner:
    """How the stages run: the ingest's batches (``run_batches``), the build (``build``); who is told
    of each delivery's outcome as it settles (``on_outcome``), of the ingest once it is over and before
    the build starts (``on_ingested``), and of a wait for the lock (``on_wait``)."""

    run_batches: BatchRunner = in_order
    build: Callable[[Settings, BuildPlan], BuildResult] = build
    on_outcome: Callable[[Outcome], None] | None = None
    on_ingested: Callable[[IngestRun], None] | None = None
    on_wait: Callable[[str], None] | None = None


@dataclass(frozen=True)
class RunReport:
    """What one run did."""

    ingest: IngestRun  # ingested, failed, deferred, skipped (nothing ingested when nothing_to_do)
    build: BuildResult  # published, or kept
    nothing_to_do: bool  # nothing new under the landing and the warehouse current: no stage ran
    recovery: Recovery  # what was cleaned up after a killed run
    problems: tuple[str, ...]  # what needs a human (txpipe.ops.health.run_problems)
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per stage, in the order run

    @property
    def records(self) -> list[DeliveryRecord]:
        return self.ingest.records

    def failure(self) -> str | None:
        """Why the run did not complete (a file failed on a bug and will be retried), or None."""
        return self.ingest.failure()


@contextmanager
def exclusive_run(
    settings: Settings, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[Recovery]:
    """Hold the run lock, and clean up after any killed run first (nothing else runs while it is held)."""
    with run_lock(settings.home, wait=wait, on_wait=on_wait):
        yield recover(settings)


def nothing_to_do(
    settings: Settings, landing: Path, sources: list[str] | None = None, full_rebuild: bool = False
) -> PublishedBuild | None:
    """The last publish, when there is nothing to ingest under ``landing`` and nothing to publish (no
    file new or changed, and nothing a build reads changed since): then no stage need run. Else None.
    A held delivery to judge again (its source's config, roster or the reference data changed) is
    something to do. Reads files only (no GX, no Prefect): cheap enough to ask before starting anything."""
    previous = None if full_rebuild else current_build(settings)
    if previous is None:
        return None
    ledger = Ledger.of(settings)
    if (
        anything_new(landing, ledger, sources, settings.sources_dir)
        or Judgements(settings, landing, ledger).stale(sources)[0]
    ):
        return None
    return previous


def run_pipeline(
    settings: Settings,
    landing: str | Path | None = None,
    sources: list[str] | None = None,
    full_rebuild: bool = False,
    *,
    wait: bool = True,
    max_quarantine_share: float | None = None,
    run_id: str = "local",
    runner: Runner = Runner(),  # frozen: one shared default is safe
    reprocess: bool = False,
) -> RunReport:
    """Ingest new deliveries, then build and publish (neither when nothing changed). What was ingested
    is published even if another file failed on a bug (that file is retried on the next run). With
    ``reprocess``, every held delivery of ``sources`` (all when None) is judged again from the landing."""
    clock = _Clock()
    clock.start("lock and recovery")
    with exclusive_run(settings, wait, runner.on_wait) as recovery:
        clock.stop("lock and recovery")
        root = landing_root(settings, landing)
        with clock("decide"):
            previous = None if reprocess else nothing_to_do(settings, root, sources, full_rebuild)
        if previous is not None:
            return _nothing_done(settings, root, sources, previous, recovery, clock)
        with clock("ingest"):
            ingest = ingest_new(
                settings,
                root,
                sources,
                run_id,
                run_batches=runner.run_batches,
                on_outcome=runner.on_outcome,
                reprocess=reprocess,
            )
        if runner.on_ingested is not None:
            runner.on_ingested(ingest)
        with clock("build"):
            built = runner.build(settings, plan_build(settings, full_rebuild))
    share = settings.max_quarantine_share if max_quarantine_share is None else max_quarantine_share
    judged = standing_records(ingest.records, built.warehouse)
    return RunReport(
        ingest=ingest,
        build=built,
        nothing_to_do=False,
        recovery=recovery,
        problems=tuple(run_problems(judged, share, source_limits(settings.sources_dir, (r.source for r in judged)))),
        seconds=clock.seconds,
    )


def standing_records(records: list[DeliveryRecord], warehouse: Path) -> list[DeliveryRecord]:
    """The run's records as the alert judges them: quarantined rows counted as they still stand in the
    published warehouse (a row a later delivery of the run stored or quarantined again counts no more)."""
    standing = Standing.of(warehouse)
    if standing is None:
        return records
    return [replace(r, rows_quarantined=standing.quarantined(r)) for r in records]


def run_if_nothing_to_do(
    settings: Settings,
    landing: str | Path | None = None,
    sources: list[str] | None = None,
    full_rebuild: bool = False,
    *,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> RunReport | None:
    """The report of a run that has nothing to do, made under the run lock without starting anything
    (no Prefect, no GX, no ingest); None when there is something to do (then run :func:`run_pipeline`)."""
    clock = _Clock()
    clock.start("lock and recovery")
    with exclusive_run(settings, wait, on_wait) as recovery:
        clock.stop("lock and recovery")
        root = landing_root(settings, landing)
        with clock("decide"):
            previous = nothing_to_do(settings, root, sources, full_rebuild)
        if previous is None:
            return None
        return _nothing_done(settings, root, sources, previous, recovery, clock)


def _nothing_done(
    settings: Settings,
    root: Path,
    sources: list[str] | None,
    previous: PublishedBuild,
    recovery: Recovery,
    clock: _Clock,
) -> RunReport:
    """The report of a run with nothing to do: what the landing holds that is never read, and the last publish."""
    with clock("survey"):
        ingest = IngestRun(root, skipped=skipped_entries(root, sources, settings.sources_dir))
    return RunReport(
        ingest=ingest,
        build=kept_build(settings, previous),
        nothing_to_do=True,
        recovery=recovery,
        problems=(),
        seconds=clock.seconds,
    )


class _Clock:
    """Wall seconds per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.start(name)
        try:
            yield
        finally:
            self.stop(name)

    def start(self, name: str) -> None:
        self._started[name] = time.perf_counter()

    def stop(self, name: str) -> None:
        self.seconds[name] = round(time.perf_counter() - self._started.pop(name), 3)
