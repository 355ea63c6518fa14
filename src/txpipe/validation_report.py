"""The validation report: one self-contained HTML page (no scripts, no remote styles) under reports/.

Built from the validation outcomes the ledger keeps for every delivery (rules broken, rows
quarantined, warnings) and the rule descriptions of the GX suite, so it opens in a browser on
a network with no internet.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

from txpipe.atomic import write_text_atomically
from txpipe.ledger import DeliveryRecord
from txpipe.settings import Settings

REPORT_FILE = "validation.html"

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem;color:#1b2430;background:#fafbfc}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:2px solid #dde3ea;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e6eaef;text-align:left;vertical-align:top}
th{background:#eef2f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.rejected{color:#a11}.superseded{color:#777}.critical{color:#a11;font-weight:600}.warning{color:#a60}
.tiles{display:flex;gap:1rem;flex-wrap:wrap}.tile{background:#fff;padding:.8rem 1rem;box-shadow:0 1px 2px #0002;min-width:9rem}
.tile b{display:block;font-size:1.4rem}.muted{color:#667}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def render(records: list[DeliveryRecord], suite_path: Path) -> str:
    suite = json.loads(suite_path.read_text(encoding="utf-8"))
    rules = [(e["meta"]["rule"], e.get("severity", "critical"), e.get("notes", ""), e["type"]) for e in suite["expectations"]]
    current = [r for r in records if r.status != "superseded"]
    totals = {k: sum(getattr(r, k) for r in current) for k in ("rows_read", "rows_stored", "rows_quarantined", "rows_duplicate")}
    failures: dict[str, int] = {}
    for record in current:
        for name, count in {**record.quarantine_reasons, **record.warnings}.items():
            failures[name] = failures.get(name, 0) + count
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>txpipe validation report</title><style>{STYLE}</style></head><body>",
        "<h1>txpipe validation report</h1>",
        f"<p class=muted>Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from the delivery ledger "
        f"and the suite {_e(suite_path.name)} ({len(rules)} rules). Superseded deliveries are listed but not counted.</p>",
        "<div class=tiles>",
        *(f"<div class=tile><b>{totals[k]:,}</b>{label}</div>" for k, label in (
            ("rows_read", "rows read"), ("rows_stored", "rows stored"), ("rows_quarantined", "rows quarantined"),
            ("rows_duplicate", "exact duplicates collapsed"))),
        f"<div class=tile><b>{sum(r.status == 'rejected' for r in current)}</b>files rejected</div></div>",
        "<h2>Deliveries</h2><table><thead><tr><th>source</th><th>file</th><th>status</th><th>read</th><th>stored</th>"
        "<th>quarantined</th><th>duplicate</th><th>rules broken (rows)</th><th>reason / columns not stored</th></tr></thead><tbody>",
    ]
    for r in sorted(records, key=lambda r: (r.source, r.source_file, r.received_at)):
        broken = ", ".join(f"{_e(k)} ({v})" for k, v in {**r.quarantine_reasons, **r.warnings}.items())
        note = r.reason or (("not stored: " + ", ".join(r.ignored_columns[:12]) + (" ..." if len(r.ignored_columns) > 12 else ""))
                            if r.ignored_columns else "")
        if r.nation_suggestions:  # reference nations only, never the delivered spelling
            broken += "<br><span class=muted>nation_unknown, did you mean: " + ", ".join(
                f"{_e(label)} ({count})" for label, count in list(r.nation_suggestions.items())[:5]) + "</span>"
        out.append(
            f"<tr class={_e(r.status)}><td>{_e(r.source)}</td><td>{_e(r.source_file)}</td><td>{_e(r.status)}</td>"
            + "".join(f"<td class=n>{getattr(r, k):,}</td>" for k in ("rows_read", "rows_stored", "rows_quarantined", "rows_duplicate"))
            + f"<td>{broken}</td><td>{_e(note)}</td></tr>")
    out.append("</tbody></table><h2>Rules</h2><table><thead><tr><th>rule</th><th>severity</th><th>rows failing"
               "</th><th>expectation</th><th>what it checks</th></tr></thead><tbody>")
    for name, severity, notes, kind in rules:
        out.append(f"<tr><td>{_e(name)}</td><td class={_e(severity)}>{_e(severity)}</td>"
                   f"<td class=n>{failures.get(name, 0):,}</td><td class=muted>{_e(kind)}</td><td>{_e(notes)}</td></tr>")
    readers = ("csv_field_count", "json_line_malformed", "json_record_not_object")
    for name in readers:
        out.append(f"<tr><td>{name}</td><td class=critical>critical</td><td class=n>{failures.get(name, 0):,}</td>"
                   "<td class=muted>reader</td><td>a row the reader could not turn into a record</td></tr>")
    out.append("</tbody></table><p class=muted>critical rules quarantine the row; warning rules keep it and "
               "count it. Quarantined rows, with their offending values, are in the warehouse table "
               "<code>quarantine</code>.</p></body></html>")
    return "\n".join(out)


def validation_report_path(settings: Settings) -> Path:
    return settings.reports_dir / REPORT_FILE


def write_validation_report(settings: Settings, records: list[DeliveryRecord]) -> Path:
    html = render(records, settings.expectations_dir / "participation.json")
    return write_text_atomically(validation_report_path(settings), html)
