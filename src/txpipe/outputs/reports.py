"""Run reports: the per-file summary of an ingest, as rows and as a JSON file under reports/."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from txpipe.store.ledger import DeliveryRecord
from txpipe.store.totals import RunTotals
from txpipe.text import markdown_cell

if TYPE_CHECKING:
    from txpipe.jobs.build_job import BuildResult
    from txpipe.warehouse.headline import Headline

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


def summary_rows(records: list[DeliveryRecord]) -> list[dict[str, object]]:
    return [
        {c: r.status_label if c == "status" else getattr(r, c) for c in SUMMARY_COLUMNS}
        for r in sorted(records, key=lambda r: (r.source, r.source_file))
    ]


def write_run_report(
    reports_dir: Path,
    run_id: str,
    records: list[DeliveryRecord],
    superseded: list[str],
    failed: list[dict[str, str]] | None = None,
    skipped: list[dict[str, str]] | None = None,
    deferred: list[dict[str, str]] | None = None,
) -> Path:
    """The run's JSON report. ``failed`` lists the deliveries that failed on a bug (file, stage,
    traceback); ``skipped`` the landing entries never read (links, special files: path and reason);
    ``deferred`` the files left for the next run because they changed while read."""
    path = reports_dir / "runs" / f"ingest-{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "run_id": run_id,
        "totals": asdict(RunTotals.of(records)),
        "deliveries": [
            asdict(r) | {"status_label": r.status_label}
            for r in sorted(records, key=lambda r: (r.source, r.source_file))
        ],
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


def _table(columns: list[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in rows]
    return lines


def run_report_markdown(records: list[DeliveryRecord], build: BuildResult) -> str:
    """The run report: what came in, what was published, what changed, what was quarantined."""
    t = RunTotals.of(records)
    lines = ["# txpipe run report", ""]
    if records:
        lines.append(
            f"**{t.files} new deliveries**: {t.rows_read:,} rows read, {t.rows_stored:,} stored, "
            f"{t.rows_quarantined:,} quarantined, {t.rows_duplicate:,} exact duplicates collapsed, "
            f"{t.rejected} files rejected."
        )
    else:
        lines.append("No new deliveries.")
    lines.append("")
    lines += _changes(build)
    lines += _partners(build.headline, build.previous_headline)
    lines += _completion(build.headline)
    lines += _quarantine(records)
    lines += _statements(records)
    rejected = [r for r in records if r.status == "rejected"]
    if rejected:
        lines += ["", "## Rejected files", ""]
        rows = [[r.source, r.source_file, r.status_label, r.reason] for r in rejected]
        lines += _table(["source", "file", "status", "reason"], rows)
    return "\n".join(lines) + "\n"


def _changes(build: BuildResult) -> list[str]:
    if build.skipped:
        return ["Nothing changed since the last publish: the warehouse and marts were kept."]
    previous = build.previous_counts or {}
    changed = [
        [name, f"{previous.get(name, 0):,}", f"{count:,}", f"{count - previous.get(name, 0):+,}"]
        for name, count in build.counts.items()
        if count != previous.get(name, 0)
    ]
    lines = ["## What changed since the previous publish", ""]
    return lines + (
        _table(["table", "rows before", "rows now", "change"], changed) if changed else ["No table changed."]
    )


def _partners(headline: Headline, previous: Headline | None) -> list[str]:
    if not headline.partners:
        return []
    year = headline.year
    before = previous.totals_by_framework() if previous and previous.year == year else {}
    lines = ["", f"## Partner participants, {year} (attended headcount)", ""]
    return lines + _table(
        ["framework", "education", "training", "exercise", "total", "before", "nations"],
        [
            [r.framework, r.education, r.training, r.exercise, r.total, before.get(r.framework, "-"), r.nations]
            for r in headline.partners
        ],
    )


def _completion(headline: Headline) -> list[str]:
    if not headline.completion:
        return []
    year = headline.completion[0].year
    lines = [
        "",
        f"## Course completion of partners, {year} (education and training only; exercises have no completion)",
        "",
    ]
    return lines + _table(
        ["framework", "completed or passed", "attended", "completion rate"],
        [
            [
                r.framework,
                f"{r.completed_or_passed:,}",
                f"{r.attended_total:,}",
                "-" if r.completion_rate is None else f"{r.completion_rate:.1%}",
            ]
            for r in headline.completion
        ],
    )


def _quarantine(records: list[DeliveryRecord]) -> list[str]:
    by_source = quarantine_by_source(records)
    if not by_source:
        return []
    lines = ["", "## Top quarantine reasons by source", ""]
    return lines + _table(
        ["source", "rule", "rows"],
        [[source, name, count] for source, counts in by_source.items() for name, count in list(counts.items())[:5]],
    )


def _statements(records: list[DeliveryRecord]) -> list[str]:
    exports = sorted((r for r in records if r.statements is not None), key=lambda r: (r.source, r.source_file))
    if not exports:
        return []
    lines = ["", "## xAPI statements (read = used + ignored + quarantined)", ""]
    return lines + _table(
        ["source", "file", "read", "used", "ignored", "quarantined"],
        [
            [
                r.source,
                r.source_file,
                *(f"{(r.statements or {})[k]:,}" for k in ("read", "used", "ignored", "quarantined")),
            ]
            for r in exports
        ],
    )
