"""What the command line prints: every delivered value as plain text (never Rich markup or emoji,
control characters escaped), summaries of a run, and a failure to print that never fails a run."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from txpipe.ingest.landing import Skipped
from txpipe.jobs.build_job import BuildResult
from txpipe.outputs.reports import SUMMARY_COLUMNS, summary_rows
from txpipe.settings import Settings
from txpipe.store.ledger import KEPT_LABEL, DeliveryRecord
from txpipe.store.objects import open_store
from txpipe.store.totals import RunTotals
from txpipe.text import printable

Part = object | tuple[object, str]  # a value, or a (value, style) pair

console = Console(width=None if sys.stdout.isatty() else 150)

SUMMARY_HEADINGS = ("source", "file", "status", "read", "stored", "quarantined", "duplicate", "reason")
LEFT = frozenset({"source", "file", "status", "reason"})


def text(value: object, style: str = "") -> Text:
    """A value as plain text: never read as Rich markup or emoji, control characters escaped."""
    return Text(printable("" if value is None else str(value)), style=style)


def line(*parts: Part) -> Text:
    """One line from parts, each a value or a (value, style) pair, all of them plain text."""
    out = Text()
    for part in parts:
        out.append_text(text(*part) if isinstance(part, tuple) else text(part))
    return out


def stderr_line(*parts: Part) -> None:
    """One line on stderr, unwrapped; never raises (it is how failures are told)."""
    with contextlib.suppress(Exception):
        Console(stderr=True, highlight=False).print(line(*parts), soft_wrap=True)


def print_after_run(print_fn: Callable[..., None], *args: Any) -> None:
    """Print a completed run's summary; a failure to print never makes the run look failed."""
    try:
        print_fn(*args)
    except Exception as error:
        stderr_line(
            ("The run completed", "yellow"),
            f", but its summary could not be printed ({type(error).__name__}); "
            "the run report under reports/runs/ has it all.",
        )


def print_summary(records: list[DeliveryRecord], settings: Settings) -> None:
    """The deliveries of a run as a table with its totals, then what was quarantined, ignored, and where
    the outputs are."""
    if not records:
        console.print(text("Nothing new to ingest: every delivered file is already in the ledger."))
        return
    console.print(_deliveries_table(records))
    reasons: dict[str, int] = {}
    for record in records:
        for name, count in record.quarantine_reasons.items():
            reasons[name] = reasons.get(name, 0) + count
    if reasons:
        top = sorted(reasons.items(), key=lambda item: -item[1])
        console.print(line("Quarantine reasons: " + ", ".join(f"{name} {count}" for name, count in top)))
    for record in records:
        if (counts := record.statements) is not None:
            console.print(
                line(
                    "xAPI statements ",
                    f"{record.source}/{record.source_file}",
                    f": {counts['read']:,} read = {counts['used']:,} used + {counts['ignored']:,} ignored"
                    f" + {counts['quarantined']:,} quarantined",
                )
            )
    if ignored := sorted({c for r in records for c in r.ignored_columns}):
        shown = ", ".join(ignored[:20]) + (f" and {len(ignored) - 20} more" if len(ignored) > 20 else "")
        console.print(line(f"Columns not stored (outside the contract): {shown}"))
    store = open_store(settings)
    for label, path in (
        ("Lake", store.url("lake/participation")),
        ("Quarantine", store.url("lake/quarantine")),
        ("Ledger", store.url("lake/deliveries")),
        ("Run reports", str(settings.reports_dir / "runs")),
    ):
        console.print(line(f"{label}: ", path))


_STATUS_STYLES = {"rejected": "red", KEPT_LABEL: "yellow"}


def _deliveries_table(records: list[DeliveryRecord]) -> Table:
    table = Table(title="Deliveries ingested", show_lines=False)
    for heading in SUMMARY_HEADINGS:
        table.add_column(heading, justify="left" if heading in LEFT else "right", overflow="fold")
    for row in summary_rows(records):  # every cell is plain text: file names, reasons and columns come from deliveries
        table.add_row(*(text(row[c]) for c in SUMMARY_COLUMNS), style=_STATUS_STYLES.get(str(row["status"])))
    t = RunTotals.of(records)
    table.add_section()
    totals = ("total", f"{t.files} files", f"{t.rejected} rejected", t.rows_read, t.rows_stored, t.rows_quarantined)
    table.add_row(*(text(v) for v in (*totals, t.rows_duplicate, "")), style="bold")
    return table


def print_skipped(skipped: list[Skipped]) -> None:
    """What the landing holds that is never read (links, special files): also in the run report."""
    for entry in skipped:
        console.print(line("Skipped (not read): ", entry.path, f" ({entry.reason})"))


def print_build(build: BuildResult, settings: Settings) -> None:
    """The headline of what was published (or kept), and where every output is."""
    if build.skipped:
        console.print(text("Nothing changed since the last publish: the warehouse and marts were kept as they are."))
    if build.headline.partners:
        console.print(_headline_table(build))
    for label, value in (
        ("Warehouse", build.warehouse),
        ("Marts", build.marts_location or settings.marts_dir),
        ("Validation report", build.validation_report),
        ("Dashboard", build.dashboard),
        ("Query it", 'txpipe query "SELECT * FROM metrics_participation LIMIT 10"'),
    ):
        console.print(line(f"{label}: ", value))


def print_seconds(stages: dict[str, float], total: float) -> None:
    """Where a run's seconds went: each stage of the run, and the rest (Prefect's server and flow, GX's
    set-up, printing)."""
    parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in stages.items())
    rest = total - sum(stages.values())
    console.print(line(f"Seconds since the command loaded: {total:.2f}: {parts}; Prefect, GX and the rest {rest:.2f}"))


def _headline_table(build: BuildResult) -> Table:
    table = Table(title=text(f"Partner participants (attended headcount), {build.headline.year}"))
    for column in ("framework", "education", "training", "exercise", "total", "nations"):
        table.add_column(text(column), justify="left" if column == "framework" else "right")
    for r in build.headline.partners:
        table.add_row(*(text(v) for v in (r.framework, r.education, r.training, r.exercise, r.total, r.nations)))
    return table
