"""The command line, the top floor: it sets up the environment and starts flows."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from txpipe.settings import REPO_ROOT, Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="txpipe: partnership training and exercise participation pipeline.")
console = Console(width=None if sys.stdout.isatty() else 150)

LandingOption = Annotated[
    Optional[Path], typer.Option("--landing", help="Landing root with one folder per source (default: $TXPIPE_HOME/landing).")
]
SourceOption = Annotated[Optional[list[str]], typer.Option("--source", help="Only these sources (repeatable).")]


def prefect_environment() -> None:
    """Project-local Prefect state and a quiet, offline temporary server unless one is configured."""
    os.environ.setdefault("PREFECT_HOME", str(REPO_ROOT / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED", "false")


def _print_summary(records, settings: Settings) -> None:
    from txpipe.reports import summary_rows, totals

    if not records:
        console.print("Nothing new to ingest: every delivered file is already in the ledger.")
        return
    table = Table(title="Deliveries ingested", show_lines=False)
    for column, justify in (("source", "left"), ("file", "left"), ("status", "left"), ("read", "right"),
                            ("stored", "right"), ("quarantined", "right"), ("duplicate", "right"), ("reason", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for row in summary_rows(records):
        style = {"rejected": "red"}.get(row["status"])
        table.add_row(row["source"], row["source_file"], row["status"], str(row["rows_read"]), str(row["rows_stored"]),
                      str(row["rows_quarantined"]), str(row["rows_duplicate"]), row["reason"] or "", style=style)
    t = totals(records)
    table.add_section()
    table.add_row("total", f"{t['files']} files", f"{t['rejected']} rejected", str(t["rows_read"]), str(t["rows_stored"]),
                  str(t["rows_quarantined"]), str(t["rows_duplicate"]), "", style="bold")
    console.print(table)
    reasons: dict[str, int] = {}
    for record in records:
        for name, count in record.quarantine_reasons.items():
            reasons[name] = reasons.get(name, 0) + count
    if reasons:
        top = sorted(reasons.items(), key=lambda item: -item[1])
        console.print("Quarantine reasons: " + ", ".join(f"{name} {count}" for name, count in top))
    ignored = sorted({c for r in records for c in r.ignored_columns})
    if ignored:
        console.print(f"Columns not stored (outside the contract): {', '.join(ignored)}")
    console.print(f"Lake: {settings.participation_dir}\nQuarantine: {settings.quarantine_dir}\n"
                  f"Ledger: {settings.ledger_dir}\nRun reports: {settings.reports_dir / 'runs'}")


def _run_ingest(landing: Optional[Path], sources: Optional[list[str]]) -> None:
    prefect_environment()
    from flows.ingest import ingest_flow

    settings = Settings.from_env()
    state = ingest_flow(landing=str(landing) if landing else None, sources=sources, return_state=True)
    if state.is_failed():
        console.print(f"[red]The run could not complete:[/red] {state.message}")
        records = []
    else:
        records = state.result()
    _print_summary(records, settings)
    if state.is_failed():
        raise typer.Exit(1)


@app.command()
def run(landing: LandingOption = None, source: SourceOption = None) -> None:
    """The main job: ingest new deliveries into the lake."""
    _run_ingest(landing, source)


@app.command()
def ingest(landing: LandingOption = None, source: SourceOption = None) -> None:
    """Ingest new deliveries: read, normalise, validate, store valid rows, quarantine the rest."""
    _run_ingest(landing, source)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Landing root to write into (one folder per source).")],
    rows: Annotated[int, typer.Option(help="Total rows over all sources.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 2026,
    defect_rate: Annotated[float, typer.Option(help="Share of rows given a planted defect (0-1).")] = 0.0,
    source: SourceOption = None,
    files: Annotated[int, typer.Option(help="Files per source.")] = 2,
) -> None:
    """Write synthetic deliveries and the manifest of planted defects (.txpipe-generate.json)."""
    from txpipe.generate import SOURCES, generate as write_deliveries
    from txpipe.reference import load_reference

    chosen = tuple(source) if source else SOURCES
    unknown = set(chosen) - set(SOURCES)
    if unknown:
        raise typer.BadParameter(f"unknown source(s) {sorted(unknown)}; choose from {SOURCES}")
    settings = Settings.from_env()
    manifest = write_deliveries(out, load_reference(settings.reference_dir), rows, seed, defect_rate, chosen, files)
    console.print(f"Wrote {sum(manifest.files.values())} rows in {len(manifest.files)} files under {out} "
                  f"({len(manifest.planted)} planted defects listed in {out / '.txpipe-generate.json'})")


def main() -> None:
    app()
