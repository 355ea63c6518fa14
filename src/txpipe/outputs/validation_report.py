"""The validation report: one self-contained HTML page (no scripts, no remote styles) under reports/.

Built from the validation outcomes the ledger keeps for every delivery (rules broken, rows
quarantined, warnings), the quarantined rows that still stand (``quarantine.current`` in the published
warehouse: a row stored or quarantined again by a later delivery no longer counts) and the rule
descriptions of the GX suite, so it opens in a browser on a network with no internet. The page is the
Jinja2 template dashboard/validation_report.html.j2,
rendered with autoescape on, like the dashboard.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from txpipe.ingest.xapi_statements import RULES
from txpipe.settings import Settings
from txpipe.store.atomic import write_text_atomically
from txpipe.store.ledger import DeliveryRecord
from txpipe.store.totals import ROW_COUNTS, RunTotals

REPORT_FILE = "validation.html"
SQL = Path(__file__).parent / "dashboard" / "sql"

TEMPLATE = "validation_report.html.j2"  # beside the dashboard's template, rendered with autoescape
READER_RULES = ("csv_field_count", "json_line_malformed", "json_record_not_object", "duplicate_key", "nul_character")
# warnings a reader counts per file (README "Delivering data"): the file's rows are kept
READER_WARNINGS = {
    "spreadsheet_error_cell": "an XLSX error cell (#N/A, #REF!, ...) read as blank",
    "column_not_delivered": "a [columns] key of the source's config that names no header of the file (per key)",
}


@dataclass(frozen=True)
class Standing:
    """The quarantined rows that still stand, per delivery: how many, and how many per rule."""

    rows: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, warehouse: Path) -> Standing | None:
        """Read from a published warehouse; None when there is none (or it predates the current column)."""
        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                found = con.execute((SQL / "quality_current.sql").read_text(encoding="utf-8")).fetchall()
        except duckdb.Error:
            return None
        standing = cls()
        for batch, reason, rows in found:
            if reason is None:
                standing.rows[batch] = rows
            else:
                standing.reasons.setdefault(batch, {})[reason] = rows
        return standing

    def quarantined(self, record: DeliveryRecord) -> int:
        return self.rows.get(record.batch_id, 0)


def render(records: list[DeliveryRecord], suite_path: Path, standing: Standing | None = None) -> str:
    """The page; with ``standing``, quarantined rows are counted as they still stand (else as delivered)."""
    from txpipe.outputs.dashboard import templates

    suite = json.loads(suite_path.read_text(encoding="utf-8"))
    current = [r for r in records if r.status != "superseded"]
    totals = RunTotals.of(current)
    tiles = [
        (totals.rows_read, "rows read"),
        (totals.rows_stored, "rows stored"),
        (totals.rows_quarantined, "rows quarantined"),
        (totals.rows_duplicate, "exact duplicates collapsed"),
        (totals.rejected, "files rejected"),
    ]
    if standing is not None:
        tiles.insert(3, (sum(standing.quarantined(r) for r in current), "quarantined rows still standing"))
    return (
        templates()
        .get_template(TEMPLATE)
        .render(
            generated=f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
            suite_name=suite_path.name,
            rules=_rules(suite["expectations"], current, standing),
            suite_rules=len(suite["expectations"]),
            tiles=tiles,
            standing=standing is not None,
            deliveries=[
                _delivery(r, standing) for r in sorted(records, key=lambda r: (r.source, r.source_file, r.received_at))
            ],
        )
    )


def _rules(
    expectations: list[dict[str, Any]], current: list[DeliveryRecord], standing: Standing | None
) -> list[dict[str, Any]]:
    """Every rule a row can break (the suite's, the readers', xAPI's), with how many rows broke it (of the
    quarantined rows, those that still stand when ``standing`` says)."""
    failures: dict[str, int] = {}
    for record in current:
        reasons = record.quarantine_reasons if standing is None else standing.reasons.get(record.batch_id, {})
        for name, count in {**reasons, **record.warnings}.items():
            failures[name] = failures.get(name, 0) + count
    rules = [
        {
            "name": e["meta"]["rule"],
            "severity": e.get("severity", "critical"),
            "notes": e.get("notes", ""),
            "kind": e["type"],
        }
        for e in expectations
    ]
    rules += [
        {
            "name": name,
            "severity": "critical",
            "notes": "a row the reader could not turn into a record",
            "kind": "reader",
        }
        for name in READER_RULES
    ]
    rules += [
        {"name": name, "severity": "warning", "notes": meaning, "kind": "reader"}
        for name, meaning in READER_WARNINGS.items()
    ]
    rules += [
        {"name": name, "severity": "critical", "notes": f"an xAPI statement: {meaning}", "kind": "xapi"}
        for name, meaning in RULES.items()
    ]
    for rule in rules:
        rule["failing"] = failures.get(rule["name"], 0)
    return rules


def _delivery(r: DeliveryRecord, standing: Standing | None) -> dict[str, Any]:
    note = r.reason or (
        ("not stored: " + ", ".join(r.ignored_columns[:12]) + (" ..." if len(r.ignored_columns) > 12 else ""))
        if r.ignored_columns
        else ""
    )
    return {
        "source": r.source,
        "source_file": r.source_file,
        "status": r.status,
        "status_label": r.status_label,
        "note": note,
        "counts": [getattr(r, k) for k in ROW_COUNTS] + ([standing.quarantined(r)] if standing is not None else []),
        "broken": list({**r.quarantine_reasons, **r.warnings}.items()),
        # reference nations only, never the delivered spelling
        "suggestions": list(r.nation_suggestions.items())[:5] if r.nation_suggestions else [],
    }


def validation_report_path(settings: Settings) -> Path:
    return settings.reports_dir / REPORT_FILE


def write_validation_report(settings: Settings, records: list[DeliveryRecord], warehouse: Path | None = None) -> Path:
    """The page, counting the quarantined rows that still stand in ``warehouse`` when given."""
    standing = Standing.of(warehouse) if warehouse is not None else None
    html = render(records, settings.expectations_dir / "participation.json", standing)
    return write_text_atomically(validation_report_path(settings), html)
