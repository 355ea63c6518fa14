"""The row tallies of a set of delivery records: one place counts them for every report and alert."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from txpipe.store.ledger import DeliveryRecord

ROW_COUNTS = ("rows_read", "rows_stored", "rows_quarantined", "rows_duplicate")


@dataclass(frozen=True)
class RunTotals:
    """Files handled (and how many stored, rejected) and the rows they held, summed over records."""

    files: int = 0
    stored: int = 0
    rejected: int = 0
    rows_read: int = 0
    rows_stored: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0

    @classmethod
    def of(cls, records: Iterable[DeliveryRecord]) -> RunTotals:
        records = list(records)
        return cls(
            files=len(records),
            stored=sum(r.status == "stored" for r in records),
            rejected=sum(r.status == "rejected" for r in records),
            rows_read=sum(r.rows_read for r in records),
            rows_stored=sum(r.rows_stored for r in records),
            rows_quarantined=sum(r.rows_quarantined for r in records),
            rows_duplicate=sum(r.rows_duplicate for r in records),
        )

    @property
    def quarantined_share(self) -> float:
        """Quarantined rows over rows read (0 when nothing was read)."""
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0
