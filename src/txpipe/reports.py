"""Run reports: the per-file summary of an ingest, as rows and as a JSON file under reports/."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from txpipe.ledger import DeliveryRecord

SUMMARY_COLUMNS = ("source", "source_file", "status", "rows_read", "rows_stored",
                   "rows_quarantined", "rows_duplicate", "reason")


def summary_rows(records: list[DeliveryRecord]) -> list[dict]:
    return [{c: getattr(r, c) for c in SUMMARY_COLUMNS} for r in sorted(records, key=lambda r: (r.source, r.source_file))]


def totals(records: list[DeliveryRecord]) -> dict[str, int]:
    out = {"files": len(records), "stored": 0, "rejected": 0}
    for key in ("rows_read", "rows_stored", "rows_quarantined", "rows_duplicate"):
        out[key] = sum(getattr(r, key) for r in records)
    for r in records:
        if r.status in ("stored", "rejected"):
            out[r.status] += 1
    return out


def write_run_report(reports_dir: Path, run_id: str, records: list[DeliveryRecord], superseded: list[str]) -> Path:
    path = reports_dir / "runs" / f"ingest-{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "run_id": run_id,
        "totals": totals(records),
        "deliveries": [asdict(r) for r in sorted(records, key=lambda r: (r.source, r.source_file))],
        "superseded_batches": superseded,
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
