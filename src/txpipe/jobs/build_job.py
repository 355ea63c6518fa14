"""Build and publish: decide whether the published warehouse is current, else publish a new one,
export the marts and write the pages.

``plan_build`` decides (keep what is published, extend it, or build from the whole lake); ``build``
carries the plan out and returns a :class:`BuildResult`, which every report reads by name.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from txpipe.outputs.dashboard import dashboard_path, write_dashboard
from txpipe.outputs.marts import export_marts
from txpipe.outputs.validation_report import validation_report_path, write_validation_report
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.store.objects import open_store
from txpipe.warehouse.headline import Headline, read_headline
from txpipe.warehouse.publish import (
    BUILD_PREFIX,
    BuildInfo,
    PublishedBuild,
    build_fingerprint,
    marts_location,
    pointer_version,
    publish_build,
    published_build,
    stage_warehouse,
    warehouse_path,
)


class BuildLost(RuntimeError):
    """Another build swapped the pointer between this build's plan and its publish (its build stands)."""


@dataclass(frozen=True)
class BuildPlan:
    """What the build will do: ``keep`` the published warehouse (nothing it reads changed), else
    publish, extending the published file when it can unless ``full_rebuild``."""

    fingerprint: str
    previous: PublishedBuild | None
    full_rebuild: bool
    pointer: str | None = None  # the pointer's version when planned: the publish swaps it from this

    @property
    def keep(self) -> bool:
        return not self.full_rebuild and self.previous is not None and self.previous.fingerprint == self.fingerprint


@dataclass(frozen=True)
class BuildResult:
    """What a build published (or kept): files, row counts and headline, and those of the publish before."""

    warehouse: Path
    counts: dict[str, int]
    marts: tuple[str, ...]  # where each mart file is published (a path, or an s3:// URL)
    skipped: bool  # True when nothing changed and the published warehouse and marts were kept
    headline: Headline
    validation_report: Path
    dashboard: Path
    previous_counts: dict[str, int] | None = None
    previous_headline: Headline | None = None
    marts_location: str = ""  # where the published marts are (a folder, or a build's prefix in the bucket)


def plan_build(settings: Settings, full_rebuild: bool = False) -> BuildPlan:
    pointer = pointer_version(settings)
    return BuildPlan(build_fingerprint(settings), published_build(settings), full_rebuild, pointer)


def kept_build(settings: Settings, previous: PublishedBuild) -> BuildResult:
    """The result of a build that publishes nothing: what the last publish recorded."""
    return BuildResult(
        warehouse=warehouse_path(settings),
        counts=previous.counts,
        marts=(),
        skipped=True,
        headline=previous.headline,
        validation_report=validation_report_path(settings),
        dashboard=dashboard_path(settings),
        marts_location=marts_location(settings, previous),
    )


def build(settings: Settings, plan: BuildPlan) -> BuildResult:
    """Carry the plan out: the validation report always; unless kept, publish the warehouse, export the
    marts, write the dashboard and record the build (last, so that a build killed before it is redone).
    The validation report counts the quarantined rows that still stand in the warehouse left published."""
    records = Ledger.of(settings).records()
    if plan.keep and plan.previous is not None:
        write_validation_report(settings, records, warehouse_path(settings))
        return kept_build(settings, plan.previous)
    staged = stage_warehouse(settings, extend=not plan.full_rebuild)
    staging = settings.warehouse_dir / f"{BUILD_PREFIX}{staged.build_id}-marts"
    try:
        marts = export_marts(staged.path, staging)
        headline = read_headline(staged.path)
        info = BuildInfo(plan.fingerprint, staged.counts, headline)
        published = publish_build(settings, staged, {p.name: p for p in marts}, info, plan.pointer)
    finally:
        staged.path.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    if published is None:  # another build made its own current first: that one stands
        raise BuildLost("another build published first; this build's files were removed and the other's stand")
    warehouse = warehouse_path(settings)
    report = write_validation_report(settings, records, warehouse)
    board = write_dashboard(settings)
    counts = staged.counts
    previous = plan.previous
    return BuildResult(
        warehouse=warehouse,
        counts=counts,
        marts=tuple(open_store(settings).url(published.keys[f"marts/{name}"]) for name in published.marts),
        marts_location=marts_location(settings, published),
        skipped=False,
        headline=headline,
        validation_report=report,
        dashboard=board,
        previous_counts=previous.counts if previous else None,
        previous_headline=previous.headline if previous else None,
    )
