"""Run reports: the per-file summary of an ingest, as rows and as a JSON file under reports/."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from txpipe.store.ledger import DeliveryRecord
from txpipe.text import markdown_cell

SUMMARY_COLUMNS = (
    "source",
    "source_file",
    "status",
    "rows_read",
    "rows_stored",
    "rows_quarantined",
    "rows_duplicate",
    "reason",
)


def summary_rows(records: list[DeliveryRecord]) -> list[dict]:
    return [
        {c: getattr(r, c) for c in SUMMARY_COLUMNS} for r in sorted(records, key=lambda r: (r.source, r.source_file))
    ]


def totals(records: list[DeliveryRecord]) -> dict[str, int]:
    out = {"files": len(records), "stored": 0, "rejected": 0}
    for key in ("rows_read", "rows_stored", "rows_quarantined", "rows_duplicate"):
        out[key] = sum(getattr(r, key) for r in records)
    for r in records:
        if r.status in ("stored", "rejected"):
            out[r.status] += 1
    return out


def write_run_report(
    reports_dir: Path,
    run_id: str,
    records: list[DeliveryRecord],
    superseded: list[str],
    failed: list[dict] | None = None,
    skipped: list[dict] | None = None,
    deferred: list[dict] | None = None,
) -> Path:
    """The run's JSON report. ``failed`` lists the deliveries that failed on a bug (file, stage,
    traceback); ``skipped`` the landing entries never read (links, special files: path and reason);
    ``deferred`` the files left for the next run because they changed while read."""
    path = reports_dir / "runs" / f"ingest-{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "run_id": run_id,
        "totals": totals(records),
        "deliveries": [asdict(r) for r in sorted(records, key=lambda r: (r.source, r.source_file))],
        "superseded_batches": superseded,
        "failed": failed or [],
        "skipped": skipped or [],
        "deferred": deferred or [],
    }
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def quarantine_by_source(records: list[DeliveryRecord]) -> dict[str, dict[str, int]]:
    """Per source, how many rows each rule quarantined in these deliveries (most frequent first)."""
    out: dict[str, dict[str, int]] = {}
    for record in records:
        counts = out.setdefault(record.source, {})
        for name, count in record.quarantine_reasons.items():
            counts[name] = counts.get(name, 0) + count
    return {s: dict(sorted(c.items(), key=lambda item: -item[1])) for s, c in sorted(out.items()) if c}


def _table(columns: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in rows]
    return lines


def run_report_markdown(records: list[DeliveryRecord], build: dict) -> str:
    """The run report: what came in, what was published, what changed, what was quarantined."""
    t = totals(records)
    lines = ["# txpipe run report", ""]
    if records:
        lines.append(
            f"**{t['files']} new deliveries**: {t['rows_read']:,} rows read, {t['rows_stored']:,} stored, "
            f"{t['rows_quarantined']:,} quarantined, {t['rows_duplicate']:,} exact duplicates collapsed, "
            f"{t['rejected']} files rejected."
        )
    else:
        lines.append("No new deliveries.")
    lines.append("")
    if build.get("skipped"):
        lines.append("Nothing changed since the last publish: the warehouse and marts were kept.")
    else:
        previous = build.get("previous_counts") or {}
        changed = [
            [name, f"{previous.get(name, 0):,}", f"{count:,}", f"{count - previous.get(name, 0):+,}"]
            for name, count in build["counts"].items()
            if count != previous.get(name, 0)
        ]
        lines += ["## What changed since the previous publish", ""]
        lines += _table(["table", "rows before", "rows now", "change"], changed) if changed else ["No table changed."]
    headline = build.get("headline") or {}
    if headline.get("rows"):
        year = headline["rows"][0][0]
        before = {row[1]: row[-2] for row in (build.get("previous_headline") or {}).get("rows", []) if row[0] == year}
        lines += ["", f"## Partner participants, {year} (attended headcount)", ""]
        lines += _table(
            ["framework", "education", "training", "exercise", "total", "before", "nations"],
            [[r[1], r[2], r[3], r[4], r[5], before.get(r[1], "-"), r[6]] for r in headline["rows"]],
        )
    completion = build.get("course_completion") or {}
    if completion.get("rows"):
        year = completion["rows"][0][0]
        lines += [
            "",
            f"## Course completion of partners, {year} (education and training only; exercises have no completion)",
            "",
        ]
        lines += _table(
            ["framework", "completed or passed", "attended", "completion rate"],
            [[r[1], f"{r[2]:,}", f"{r[3]:,}", "-" if r[4] is None else f"{r[4]:.1%}"] for r in completion["rows"]],
        )
    by_source = quarantine_by_source(records)
    if by_source:
        lines += ["", "## Top quarantine reasons by source", ""]
        lines += _table(
            ["source", "rule", "rows"],
            [[source, name, count] for source, counts in by_source.items() for name, count in list(counts.items())[:5]],
        )
    exports = [r for r in records if r.statements is not None]
    if exports:
        lines += ["", "## xAPI statements (read = used + ignored + quarantined)", ""]
        lines += _table(
            ["source", "file", "read", "used", "ignored", "quarantined"],
            [
                [r.source, r.source_file, *(f"{r.statements[k]:,}" for k in ("read", "used", "ignored", "quarantined"))]
                for r in sorted(exports, key=lambda r: (r.source, r.source_file))
            ],
        )
    rejected = [r for r in records if r.status == "rejected"]
    if rejected:
        lines += ["", "## Rejected files", ""]
        lines += _table(["source", "file", "reason"], [[r.source, r.source_file, r.reason] for r in rejected])
    return "\n".join(lines) + "\n"
