"""Build and publish: decide whether the published warehouse is current, else publish a new one,
export the marts and write the pages.

``plan_build`` decides (keep what is published, extend it, or build from the whole lake); ``build``
carries the plan out and returns a :class:`BuildResult`, which every report reads by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from txpipe.outputs.dashboard import dashboard_path, write_dashboard
from txpipe.outputs.marts import export_marts
from txpipe.outputs.validation_report import validation_report_path, write_validation_report
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.warehouse.headline import Headline, read_headline
from txpipe.warehouse.publish import (
    PublishedBuild,
    build_fingerprint,
    publish_warehouse,
    published_build,
    record_build,
    warehouse_path,
)


@dataclass(frozen=True)
class BuildPlan:
    """What the build will do: ``keep`` the published warehouse (nothing it reads changed), else
    publish, extending the published file when it can unless ``full_rebuild``."""

    fingerprint: str
    previous: PublishedBuild | None
    full_rebuild: bool

    @property
    def keep(self) -> bool:
        return not self.full_rebuild and self.previous is not None and self.previous.fingerprint == self.fingerprint


@dataclass(frozen=True)
class BuildResult:
    """What a build published (or kept): files, row counts and headline, and those of the publish before."""

    warehouse: Path
    counts: dict[str, int]
    marts: tuple[Path, ...]
    skipped: bool  # True when nothing changed and the published warehouse and marts were kept
    headline: Headline
    validation_report: Path
    dashboard: Path
    previous_counts: dict[str, int] | None = None
    previous_headline: Headline | None = None


def plan_build(settings: Settings, full_rebuild: bool = False) -> BuildPlan:
    return BuildPlan(build_fingerprint(settings), published_build(settings), full_rebuild)


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
    )


def build(settings: Settings, plan: BuildPlan) -> BuildResult:
    """Carry the plan out: the validation report always; unless kept, publish the warehouse, export the
    marts, write the dashboard and record the build (last, so that a build killed before it is redone).
    The validation report counts the quarantined rows that still stand in the warehouse left published."""
    records = Ledger(settings.ledger_dir).records()
    if plan.keep and plan.previous is not None:
        write_validation_report(settings, records, warehouse_path(settings))
        return kept_build(settings, plan.previous)
    warehouse, counts = publish_warehouse(settings, extend=not plan.full_rebuild)
    report = write_validation_report(settings, records, warehouse)
    marts = export_marts(warehouse, settings.marts_dir)
    board = write_dashboard(settings)
    headline = read_headline(warehouse)
    record_build(settings, plan.fingerprint, counts, marts, headline)
    previous = plan.previous
    return BuildResult(
        warehouse=warehouse,
        counts=counts,
        marts=tuple(marts),
        skipped=False,
        headline=headline,
        validation_report=report,
        dashboard=board,
        previous_counts=previous.counts if previous else None,
        previous_headline=previous.headline if previous else None,
    )
