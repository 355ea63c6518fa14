"""When a run needs a human: every delivery rejected, or too many rows quarantined.

The quarantined share is judged per source where the source's config sets its own limit
(``[quarantine] max_share``, for exports that are mostly grid zeros), and over all the other sources
together against the run-wide limit (TXPIPE_MAX_QUARANTINE_SHARE)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from txpipe.ingest.sources import SourceConfigError, load_source_config
from txpipe.store.ledger import DeliveryRecord
from txpipe.store.totals import RunTotals


def run_problems(
    records: list[DeliveryRecord], max_quarantine_share: float, source_limits: Mapping[str, float] | None = None
) -> list[str]:
    """Reasons to alert on this run's deliveries (empty when the run is healthy). ``max_quarantine_share``
    is Settings.max_quarantine_share (TXPIPE_MAX_QUARANTINE_SHARE) unless a flow was given one; it judges
    the rows of the sources without a limit of their own in ``source_limits`` (source -> its config's
    ``[quarantine] max_share``: :func:`source_limits`), each of which is judged alone against its own."""
    limits = source_limits or {}
    problems = []
    if records and all(r.status == "rejected" for r in records):
        problems.append(f"all {len(records)} deliveries were rejected")
    totals = RunTotals.of(r for r in records if r.source not in limits)
    if totals.rows_read and totals.quarantined_share > max_quarantine_share:
        problems.append(
            f"{totals.rows_quarantined} of {totals.rows_read} rows quarantined ({totals.quarantined_share:.0%}), "
            f"above the {max_quarantine_share:.0%} threshold (TXPIPE_MAX_QUARANTINE_SHARE)"
        )
    for source in sorted({r.source for r in records if r.source in limits}):
        own = RunTotals.of(r for r in records if r.source == source)
        if own.rows_read and own.quarantined_share > limits[source]:
            problems.append(
                f"source {source}: {own.rows_quarantined} of {own.rows_read} rows quarantined "
                f"({own.quarantined_share:.0%}), above its limit of {limits[source]:g} ([quarantine] max_share)"
            )
    return problems


def source_limits(sources_dir: Path, sources: Iterable[str]) -> dict[str, float]:
    """Each source's own quarantine limit (``[quarantine] max_share`` in its config), for the sources
    that set one; a config that cannot be read sets none (its files were rejected anyway)."""
    limits = {}
    for source in sorted(set(sources)):
        try:
            share = load_source_config(sources_dir, source).max_quarantine_share
        except SourceConfigError:
            continue
        if share is not None:
            limits[source] = share
    return limits
