"""The command line, the top floor: it sets up the environment and starts flows."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from txpipe.prefect_server import TEMPORARY_ONLY
from txpipe.settings import REPO_ROOT, Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="txpipe: partnership training and exercise participation pipeline.")
console = Console(width=None if sys.stdout.isatty() else 150)

LandingOption = Annotated[
    Optional[Path], typer.Option("--landing", help="Landing root with one folder per source (default: $TXPIPE_HOME/landing).")
]
SourceOption = Annotated[Optional[list[str]], typer.Option("--source", help="Only these sources (repeatable).")]
WaitOption = Annotated[bool, typer.Option("--wait/--no-wait", help="If another run is active: wait for it (default) or exit with status 3.")]
FullOption = Annotated[bool, typer.Option("--full-rebuild", help="Rebuild and publish even if nothing changed.")]


def prefect_environment() -> None:
    """Project-local Prefect state and a quiet, offline temporary server unless one is configured."""
    os.environ.setdefault("PREFECT_HOME", str(REPO_ROOT / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    if not os.environ.get("PREFECT_API_URL"):
        # The temporary server lives for one run: none of its background services (schedules,
        # late runs, event persistence, task-run history, ...) has anything to do, and on a
        # 2-core machine they take CPU from the run (and ~1 s from its start).
        for name in TEMPORARY_ONLY:
            os.environ.setdefault(name, "false")


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
        shown = ", ".join(ignored[:20]) + (f" and {len(ignored) - 20} more" if len(ignored) > 20 else "")
        console.print(f"Columns not stored (outside the contract): {shown}")
    console.print(f"Lake: {settings.participation_dir}\nQuarantine: {settings.quarantine_dir}\n"
                  f"Ledger: {settings.ledger_dir}\nRun reports: {settings.reports_dir / 'runs'}")


@contextmanager
def prefect_run_settings():
    """Settings for flows this process runs. On the temporary server, no flow-run heartbeats: they
    exist to spot crashed runs on a lasting server, and each flow would wait up to 1 s at its end
    for the heartbeat thread to notice it finished."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _flow_state(flow_fn, wait: bool = True, **parameters):
    """Run a flow under the run lock (the CLI is the only place that starts flows)."""
    from txpipe.runlock import RunLocked, run_lock

    settings = Settings.from_env()
    try:
        with run_lock(settings.home, wait=wait, on_wait=lambda m: console.print(f"[yellow]{m}[/yellow]")), \
                prefect_run_settings():
            state = flow_fn(**parameters, return_state=True)
    except RunLocked as error:
        console.print(f"[red]Not started:[/red] {error}")
        raise typer.Exit(3) from None
    if state.is_failed():
        console.print(f"[red]The run could not complete:[/red] {state.message}")
    return state


def _print_build(build: dict, settings: Settings) -> None:
    from txpipe.warehouse.query import headline

    if build.get("skipped"):
        console.print("Nothing changed since the last publish: the warehouse and marts were kept as they are.")
    result = headline(Path(build["warehouse"]))
    if result.rows:
        year = result.rows[0][0]
        table = Table(title=f"Partner participants (attended headcount), {year}")
        for column in result.columns[1:]:
            table.add_column(column, justify="left" if column == "framework" else "right")
        for row in result.rows:
            table.add_row(*(str(v) for v in row[1:]))
        console.print(table)
    console.print(f"Warehouse: {build['warehouse']}\nMarts: {settings.marts_dir}\n"
                  f"Validation report: {build.get('validation_report')}\nDashboard: {build.get('dashboard')}\n"
                  "Query it: txpipe query \"SELECT * FROM metrics_participation LIMIT 10\"")


@app.command()
def run(landing: LandingOption = None, source: SourceOption = None, wait: WaitOption = True,
        full_rebuild: FullOption = False,
        strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when every delivery was rejected or the "
                                             "quarantined share passes TXPIPE_MAX_QUARANTINE_SHARE.")] = False) -> None:
    """The main job: ingest new deliveries, then build and publish the warehouse and marts."""
    prefect_environment()
    from flows.pipeline import pipeline_flow

    settings = Settings.from_env()
    state = _flow_state(pipeline_flow, wait, landing=str(landing) if landing else None, sources=source,
                        full_rebuild=full_rebuild, alert=strict)
    if state.is_failed():
        raise typer.Exit(1)
    result = state.result()
    _print_summary(result["deliveries"], settings)
    _print_build(result["build"], settings)


@app.command()
def ingest(landing: LandingOption = None, source: SourceOption = None, wait: WaitOption = True) -> None:
    """Ingest new deliveries: read, normalise, validate, store valid rows, quarantine the rest."""
    prefect_environment()
    from flows.ingest import ingest_flow

    settings = Settings.from_env()
    state = _flow_state(ingest_flow, wait, landing=str(landing) if landing else None, sources=source)
    if state.is_failed():
        raise typer.Exit(1)
    _print_summary(state.result(), settings)


@app.command()
def build(wait: WaitOption = True, full_rebuild: FullOption = False) -> None:
    """Build and publish the warehouse from the lake, and export the marts."""
    prefect_environment()
    from flows.build_metrics import build_flow

    state = _flow_state(build_flow, wait, full_rebuild=full_rebuild)
    if state.is_failed():
        raise typer.Exit(1)
    _print_build(state.result(), Settings.from_env())


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run read-only on the published warehouse.")],
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Run ad-hoc SQL, read-only, on the published warehouse."""
    import csv
    import json

    from txpipe.warehouse.publish import warehouse_path
    from txpipe.warehouse.query import QueryRefused, run_query

    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    try:
        result = run_query(warehouse_path(Settings.from_env()), sql)
    except (QueryRefused, FileNotFoundError) as error:
        Console(stderr=True).print(f"[red]Refused:[/red] {error}")
        raise typer.Exit(2) from None
    if format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    elif format == "json":
        print(json.dumps([dict(zip(result.columns, row)) for row in result.rows], default=str, indent=1))
    else:
        table = Table(show_lines=False)
        for column in result.columns:
            table.add_column(column)
        for row in result.rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        console.print(f"{len(result.rows)} row(s)")


@app.command()
def serve(
    landing: LandingOption = None,
    source: SourceOption = None,
    nightly_cron: Annotated[Optional[str], typer.Option(help="Cron of the nightly run (default 0 2 * * *, UTC).")] = None,
    weekly_cron: Annotated[Optional[str], typer.Option(help="Cron of the weekly full rebuild (default 0 4 * * 0).")] = None,
    start_server: Annotated[bool, typer.Option("--start-server", help="Also start a local Prefect server on 127.0.0.1.")] = False,
    port: Annotated[int, typer.Option(help="Port of the server --start-server starts.")] = 4200,
) -> None:
    """Serve the scheduled deployments (nightly pipeline, weekly full rebuild) until Ctrl-C."""
    from txpipe.prefect_server import local_server

    prefect_environment()
    if not start_server and not os.environ.get("PREFECT_API_URL"):
        console.print("[red]txpipe serve needs a Prefect server:[/red] use --start-server (or `make serve`), "
                      "or set PREFECT_API_URL")
        raise typer.Exit(2)
    with local_server(port) if start_server else _nothing():
        console.print(f"Prefect UI: {os.environ['PREFECT_API_URL'].removesuffix('/api')}  (Ctrl-C stops everything)")
        from flows.deployments import serve_deployments

        try:
            serve_deployments(landing=str(landing.resolve()) if landing else None, sources=source,
                              nightly_cron=nightly_cron, weekly_cron=weekly_cron)
        except KeyboardInterrupt:
            console.print("stopped")


@contextmanager
def _nothing():
    yield


PartnerOption = Annotated[str, typer.Option("--partner", help="Nation code (e.g. GEO): only its figures.")]


def _or_exit_2(make, *args):
    """Run an output-writing call; an unknown nation or a missing warehouse exits 2 with the reason."""
    try:
        return make(*args)
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


@app.command()
def dashboard(
    partner: Annotated[Optional[str], typer.Option("--partner", help="Nation code: a copy with only its figures.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default reports/dashboard[-CODE].html).")] = None,
) -> None:
    """Write the offline dashboard (one self-contained HTML file) from the published warehouse."""
    from txpipe.dashboard import write_dashboard

    console.print(f"Dashboard: {_or_exit_2(write_dashboard, Settings.from_env(), partner, out)}")


@app.command()
def export(
    partner: PartnerOption,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder (default marts/partner-CODE/).")] = None,
) -> None:
    """Export the marts scoped to one partner (Parquet and CSV): its own rows and overall totals only."""
    from txpipe.partner_export import export_partner_marts

    files = _or_exit_2(export_partner_marts, Settings.from_env(), partner, out)
    console.print(f"Wrote {len(files)} files to {files[0].parent}")


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
