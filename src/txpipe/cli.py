"""The command line, the top floor: it sets up the environment and starts flows."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from txpipe.ops.prefect_server import TEMPORARY_ONLY
from txpipe.settings import REPO_ROOT, Settings

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="txpipe: partnership training and exercise participation pipeline."
)
console = Console(width=None if sys.stdout.isatty() else 150)

LandingOption = Annotated[
    Path | None,
    typer.Option("--landing", help="Landing root with one folder per source (default: $TXPIPE_HOME/landing)."),
]
SourceOption = Annotated[list[str] | None, typer.Option("--source", help="Only these sources (repeatable).")]
WaitOption = Annotated[
    bool,
    typer.Option("--wait/--no-wait", help="If another run is active: wait for it (default) or exit with status 3."),
]
FullOption = Annotated[bool, typer.Option("--full-rebuild", help="Rebuild and publish even if nothing changed.")]


def _text(value, style: str = "") -> Text:
    """A value as plain text: never read as Rich markup or emoji, control characters escaped."""
    from txpipe.text import printable

    return Text(printable("" if value is None else str(value)), style=style)


def _line(*parts) -> Text:
    """One line from parts, each a value or a (value, style) pair, all of them plain text."""
    out = Text()
    for part in parts:
        out.append_text(_text(*part) if isinstance(part, tuple) else _text(part))
    return out


def _stderr_line(*parts) -> None:
    """One line on stderr, unwrapped; never raises (it is how failures are told)."""
    try:
        Console(stderr=True, highlight=False).print(_line(*parts), soft_wrap=True)
    except Exception:
        pass


def _print_after_run(print_fn, *args) -> None:
    """Print a completed run's summary; a failure to print never makes the run look failed."""
    try:
        print_fn(*args)
    except Exception as error:
        _stderr_line(
            ("The run completed", "yellow"),
            f", but its summary could not be printed ({type(error).__name__}); "
            "the run report under reports/runs/ has it all.",
        )


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
    from txpipe.outputs.reports import summary_rows, totals

    if not records:
        console.print(_text("Nothing new to ingest: every delivered file is already in the ledger."))
        return
    table = Table(title="Deliveries ingested", show_lines=False)
    for column, justify in (
        ("source", "left"),
        ("file", "left"),
        ("status", "left"),
        ("read", "right"),
        ("stored", "right"),
        ("quarantined", "right"),
        ("duplicate", "right"),
        ("reason", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for row in summary_rows(records):  # every cell is plain text: file names, reasons and columns come from deliveries
        style = {"rejected": "red"}.get(row["status"])
        table.add_row(
            *(
                _text(row[c])
                for c in (
                    "source",
                    "source_file",
                    "status",
                    "rows_read",
                    "rows_stored",
                    "rows_quarantined",
                    "rows_duplicate",
                    "reason",
                )
            ),
            style=style,
        )
    t = totals(records)
    table.add_section()
    table.add_row(
        *(
            _text(v)
            for v in (
                "total",
                f"{t['files']} files",
                f"{t['rejected']} rejected",
                t["rows_read"],
                t["rows_stored"],
                t["rows_quarantined"],
                t["rows_duplicate"],
                "",
            )
        ),
        style="bold",
    )
    console.print(table)
    reasons: dict[str, int] = {}
    for record in records:
        for name, count in record.quarantine_reasons.items():
            reasons[name] = reasons.get(name, 0) + count
    if reasons:
        top = sorted(reasons.items(), key=lambda item: -item[1])
        console.print(_line("Quarantine reasons: " + ", ".join(f"{name} {count}" for name, count in top)))
    for record in records:
        if record.statements is not None:
            counts = record.statements
            console.print(
                _line(
                    "xAPI statements ",
                    f"{record.source}/{record.source_file}",
                    f": {counts['read']:,} read = {counts['used']:,} used + {counts['ignored']:,} ignored"
                    f" + {counts['quarantined']:,} quarantined",
                )
            )
    ignored = sorted({c for r in records for c in r.ignored_columns})
    if ignored:
        shown = ", ".join(ignored[:20]) + (f" and {len(ignored) - 20} more" if len(ignored) > 20 else "")
        console.print(_line(f"Columns not stored (outside the contract): {shown}"))
    for label, path in (
        ("Lake", settings.participation_dir),
        ("Quarantine", settings.quarantine_dir),
        ("Ledger", settings.ledger_dir),
        ("Run reports", settings.reports_dir / "runs"),
    ):
        console.print(_line(f"{label}: ", path))


def _print_skipped(landing: Path | None, sources: list[str] | None, settings: Settings) -> None:
    """What the landing holds that is never read (links, special files): also in the run report."""
    from txpipe.ingest.landing import skipped_entries

    for entry in skipped_entries(landing.resolve() if landing else settings.landing, sources, settings.sources_dir):
        console.print(_line("Skipped (not read): ", entry.path, f" ({entry.reason})"))


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
    from txpipe.ops.runlock import RunLocked, run_lock

    settings = Settings.from_env()
    try:
        with (
            run_lock(settings.home, wait=wait, on_wait=lambda m: console.print(_line((m, "yellow")))),
            prefect_run_settings(),
        ):
            state = flow_fn(**parameters, return_state=True)
    except RunLocked as error:
        console.print(_line(("Not started: ", "red"), error))
        raise typer.Exit(3) from None
    if state.is_failed():
        console.print(_line(("The run could not complete: ", "red"), state.message))
    return state


def _print_build(build: dict, settings: Settings) -> None:
    from txpipe.warehouse.query import headline

    if build.get("skipped"):
        console.print(_text("Nothing changed since the last publish: the warehouse and marts were kept as they are."))
    result = headline(Path(build["warehouse"]))
    if result.rows:
        year = result.rows[0][0]
        table = Table(title=_text(f"Partner participants (attended headcount), {year}"))
        for column in result.columns[1:]:
            table.add_column(_text(column), justify="left" if column == "framework" else "right")
        for row in result.rows:
            table.add_row(*(_text(v) for v in row[1:]))
        console.print(table)
    for label, value in (
        ("Warehouse", build["warehouse"]),
        ("Marts", settings.marts_dir),
        ("Validation report", build.get("validation_report")),
        ("Dashboard", build.get("dashboard")),
        ("Query it", 'txpipe query "SELECT * FROM metrics_participation LIMIT 10"'),
    ):
        console.print(_line(f"{label}: ", value))


@app.command()
def run(
    landing: LandingOption = None,
    source: SourceOption = None,
    wait: WaitOption = True,
    full_rebuild: FullOption = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 1 when every delivery was rejected or the quarantined share passes TXPIPE_MAX_QUARANTINE_SHARE.",
        ),
    ] = False,
) -> None:
    """The main job: ingest new deliveries, then build and publish the warehouse and marts."""
    prefect_environment()
    from flows.pipeline import pipeline_flow

    settings = Settings.from_env()
    state = _flow_state(
        pipeline_flow,
        wait,
        landing=str(landing) if landing else None,
        sources=source,
        full_rebuild=full_rebuild,
        alert=strict,
    )
    if state.is_failed():
        raise typer.Exit(1)
    result = state.result()  # the run is complete and published: printing it can no longer fail it
    _print_after_run(_print_summary, result["deliveries"], settings)
    _print_after_run(_print_skipped, landing, source, settings)
    _print_after_run(_print_build, result["build"], settings)


@app.command()
def ingest(landing: LandingOption = None, source: SourceOption = None, wait: WaitOption = True) -> None:
    """Ingest new deliveries: read, normalise, validate, store valid rows, quarantine the rest."""
    prefect_environment()
    from flows.ingest import ingest_flow

    settings = Settings.from_env()
    state = _flow_state(ingest_flow, wait, landing=str(landing) if landing else None, sources=source)
    if state.is_failed():
        raise typer.Exit(1)
    _print_after_run(_print_summary, state.result(), settings)
    _print_after_run(_print_skipped, landing, source, settings)


@app.command()
def build(wait: WaitOption = True, full_rebuild: FullOption = False) -> None:
    """Build and publish the warehouse from the lake, and export the marts."""
    prefect_environment()
    from flows.build_metrics import build_flow

    state = _flow_state(build_flow, wait, full_rebuild=full_rebuild)
    if state.is_failed():
        raise typer.Exit(1)
    _print_after_run(_print_build, state.result(), Settings.from_env())


TABLE_MAX_ROWS = 1000


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run read-only on the published warehouse.")],
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="Stop the query after SECONDS (0: no limit).", metavar="SECONDS")
    ] = 300.0,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows",
            min=0,
            metavar="N",
            help=(f"Show at most N rows (default {TABLE_MAX_ROWS} for table, no limit for csv and json; 0: no limit)."),
        ),
    ] = None,
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit", metavar="SIZE", help="DuckDB memory cap, e.g. 500MB, 2GB (spill is capped alike)."
        ),
    ] = "1GB",
) -> None:
    """Run ad-hoc SQL, read-only, on the published warehouse (exit 2 when refused or failed)."""
    from txpipe.warehouse.publish import warehouse_path
    from txpipe.warehouse.query import Limits, QueryRefused, open_query

    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    if max_rows is None:
        max_rows = TABLE_MAX_ROWS if format == "table" else 0
    limits = Limits(timeout=timeout or None, memory_limit=memory_limit)
    try:
        with open_query(warehouse_path(Settings.from_env()), sql, limits) as stream:
            shown, truncated = _write_result(stream, format, max_rows or None)
    except (QueryRefused, FileNotFoundError) as error:
        _stderr_line(("Refused: ", "red"), error)
        raise typer.Exit(2) from None
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to write, nothing to tell
        _quiet_stdout()
        return
    if truncated:
        _stderr_line(
            ("Truncated: ", "yellow"),
            f"showing the first {shown} rows; the result has more "
            "(--max-rows N shows more, 0 all; --format csv or json streams every row).",
        )


def _write_result(stream, format: str, max_rows: int | None) -> tuple[int, bool]:
    """Write the result as it comes; returns the rows written and whether rows were left out."""
    if format == "table":
        rows, truncated = stream.rows(max_rows)
        table = Table(show_lines=False)
        for column in stream.columns:
            table.add_column(_text(column))
        for row in rows:
            table.add_row(*(_text(v) for v in row))
        console.print(table)
        console.print(_text(f"{len(rows)} row(s)" + (" shown" if truncated else "")))
        return len(rows), truncated
    written, out = 0, sys.stdout
    if format == "csv":  # machine output: values exactly as they are (a CSV reader gets them back)
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(stream.columns)
    else:
        out.write("[")
    truncated = False
    for batch in stream.batches():
        if max_rows is not None and written + len(batch) > max_rows:
            batch, truncated = batch[: max_rows - written], True
        if format == "csv":
            writer.writerows(batch)
        else:
            out.write(
                "".join(
                    ("\n" if written + i == 0 else ",\n") + _json_row(stream.columns, row)
                    for i, row in enumerate(batch)
                )
            )
        written += len(batch)
        if truncated:
            break
        if max_rows is not None and written == max_rows:
            truncated = next(stream.batches(), None) is not None
            break
    if format == "json":
        out.write("\n]\n" if written else "]\n")
    out.flush()
    return written, truncated


def _json_row(columns: list[str], row: tuple) -> str:
    """One result row as an indented JSON object: NaN and infinities become null, dates, decimals
    and other non-JSON values their text; control characters are escaped by JSON itself."""
    import json

    text = json.dumps(dict(zip(columns, (_jsonable(v) for v in row))), indent=1, allow_nan=False)
    return "\n".join(" " + line for line in text.splitlines())


def _jsonable(value):
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


@app.command()
def serve(
    landing: LandingOption = None,
    source: SourceOption = None,
    nightly_cron: Annotated[
        str | None, typer.Option(help="Cron of the nightly run (default 0 2 * * *, UTC).")
    ] = None,
    weekly_cron: Annotated[
        str | None, typer.Option(help="Cron of the weekly full rebuild (default 0 4 * * 0).")
    ] = None,
    start_server: Annotated[
        bool, typer.Option("--start-server", help="Also start a local Prefect server on 127.0.0.1.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the server --start-server starts.")] = 4200,
) -> None:
    """Serve the scheduled deployments (nightly pipeline, weekly full rebuild) until Ctrl-C."""
    from txpipe.ops.prefect_server import local_server

    prefect_environment()
    if not start_server and not os.environ.get("PREFECT_API_URL"):
        console.print(
            _line(
                ("txpipe serve needs a Prefect server:", "red"),
                " use --start-server (or `make serve`), or set PREFECT_API_URL",
            )
        )
        raise typer.Exit(2)
    with local_server(port) if start_server else _nothing():
        console.print(
            _line(f"Prefect UI: {os.environ['PREFECT_API_URL'].removesuffix('/api')}  (Ctrl-C stops everything)")
        )
        from flows.deployments import serve_deployments

        try:
            serve_deployments(
                landing=str(landing.resolve()) if landing else None,
                sources=source,
                nightly_cron=nightly_cron,
                weekly_cron=weekly_cron,
            )
        except KeyboardInterrupt:
            console.print(_text("stopped"))


@contextmanager
def _nothing():
    yield


PartnerOption = Annotated[str, typer.Option("--partner", help="Nation code (e.g. GEO): only its figures.")]


def _or_exit_2(make, *args):
    """Run an output-writing call; an unknown nation or a missing warehouse exits 2 with the reason."""
    try:
        return make(*args)
    except (ValueError, FileNotFoundError) as error:
        console.print(_line((error, "red")))
        raise typer.Exit(2) from None


@app.command()
def dashboard(
    partner: Annotated[
        str | None, typer.Option("--partner", help="Nation code: a copy with only its figures.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default reports/dashboard[-CODE].html).")
    ] = None,
) -> None:
    """Write the offline dashboard (one self-contained HTML file) from the published warehouse."""
    from txpipe.outputs.dashboard import write_dashboard

    console.print(_line("Dashboard: ", _or_exit_2(write_dashboard, Settings.from_env(), partner, out)))


@app.command()
def export(
    partner: PartnerOption,
    out: Annotated[Path | None, typer.Option("--out", help="Folder (default marts/partner-CODE/).")] = None,
) -> None:
    """Export the marts scoped to one partner (Parquet and CSV): its own rows and overall totals only."""
    from txpipe.outputs.partner_export import export_partner_marts

    files = _or_exit_2(export_partner_marts, Settings.from_env(), partner, out)
    console.print(_line(f"Wrote {len(files)} files to ", files[0].parent))


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Landing root to write into (one folder per source).")],
    rows: Annotated[int, typer.Option(help="Total rows over all sources.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 2026,
    defect_rate: Annotated[float, typer.Option(help="Share of rows given a planted defect (0-1).")] = 0.0,
    source: SourceOption = None,
    files: Annotated[int, typer.Option(help="Files per source.")] = 2,
    lrs: Annotated[
        int,
        typer.Option(
            help="Also write the e-learning source as an LRS export of this many xAPI "
            "statements (OUT/jadl-lrs/, JSON Lines)."
        ),
    ] = 0,
) -> None:
    """Write synthetic deliveries and the manifests of planted defects (.txpipe-generate.json, .txpipe-lrs.json)."""
    from txpipe.reference import load_reference
    from txpipe.samples.lrs import LRS_MANIFEST, LRS_SOURCE, write_lrs_export
    from txpipe.samples.rosters import SOURCES
    from txpipe.samples.rosters import generate as write_deliveries

    chosen = tuple(source) if source else SOURCES
    unknown = set(chosen) - {*SOURCES, LRS_SOURCE}
    if unknown:
        raise typer.BadParameter(f"unknown source(s) {sorted(unknown)}; choose from {(*SOURCES, LRS_SOURCE)}")
    settings = Settings.from_env()
    reference = load_reference(settings.reference_dir)
    if rosters := tuple(name for name in chosen if name != LRS_SOURCE):
        manifest = write_deliveries(out, reference, rows, seed, defect_rate, rosters, files)
        console.print(
            _line(
                f"Wrote {sum(manifest.files.values())} rows in {len(manifest.files)} files under {out} "
                f"({len(manifest.planted)} planted defects listed in {out / '.txpipe-generate.json'})"
            )
        )
    if lrs:
        path = out / LRS_SOURCE / f"{LRS_SOURCE.replace('-', '_')}_export.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        exported = write_lrs_export(path, reference, lrs, seed, defect_rate)
        (out / LRS_MANIFEST).write_text(
            json.dumps({k: v for k, v in exported.as_dict().items() if k != "path"}, indent=1), encoding="utf-8"
        )
        console.print(
            _line(
                f"Wrote {exported.statements} xAPI statements to ",
                path,
                f" ({len(exported.planted)} planted defects listed in {out / LRS_MANIFEST})",
            )
        )


def main() -> None:
    app()
