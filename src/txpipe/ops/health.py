"""When a run needs a human: every delivery rejected, or too many rows quarantined."""

from __future__ import annotations

import os

from txpipe.store.ledger import DeliveryRecord

DEFAULT_MAX_QUARANTINE_SHARE = 0.2


def max_quarantine_share_from_env() -> float:
    return float(os.environ.get("TXPIPE_MAX_QUARANTINE_SHARE", DEFAULT_MAX_QUARANTINE_SHARE))


def run_problems(records: list[DeliveryRecord], max_quarantine_share: float) -> list[str]:
    """Reasons to alert on this run's deliveries (empty when the run is healthy)."""
    problems = []
    if records and all(r.status == "rejected" for r in records):
        problems.append(f"all {len(records)} deliveries were rejected")
    read = sum(r.rows_read for r in records)
    quarantined = sum(r.rows_quarantined for r in records)
    if read and quarantined / read > max_quarantine_share:
        problems.append(
            f"{quarantined} of {read} rows quarantined ({quarantined / read:.0%}), "
            f"above the {max_quarantine_share:.0%} threshold (TXPIPE_MAX_QUARANTINE_SHARE)"
        )
    return problems
