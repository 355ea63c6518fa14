"""When a run needs a human: every delivery rejected, or too many rows quarantined."""

from __future__ import annotations

from txpipe.store.ledger import DeliveryRecord
from txpipe.store.totals import RunTotals


def run_problems(records: list[DeliveryRecord], max_quarantine_share: float) -> list[str]:
    """Reasons to alert on this run's deliveries (empty when the run is healthy); the share is
    Settings.max_quarantine_share (TXPIPE_MAX_QUARANTINE_SHARE) unless a flow was given one."""
    problems = []
    if records and all(r.status == "rejected" for r in records):
        problems.append(f"all {len(records)} deliveries were rejected")
    totals = RunTotals.of(records)
    if totals.rows_read and totals.quarantined_share > max_quarantine_share:
        problems.append(
            f"{totals.rows_quarantined} of {totals.rows_read} rows quarantined ({totals.quarantined_share:.0%}), "
            f"above the {max_quarantine_share:.0%} threshold (TXPIPE_MAX_QUARANTINE_SHARE)"
        )
    return problems
