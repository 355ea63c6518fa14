"""The commands that start flows (the command line is the only place that does): run, ingest, build,
serve. Each reads the settings once and hands them to its flow."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from txpipe.cli.app import FullOption, LandingOption, SourceOption, WaitOption, app, read_settings, refuse_to_start
from txpipe.cli.output import (
    console,
    line,
    print_after_run,
    print_build,
    print_seconds,
    print_skipped,
    print_summary,
    text,
)
from txpipe.ops.prefect_server import apply_prefect_defaults, reap_stale_server
from txpipe.settings import Settings

STARTED = time.perf_counter()  # when the command line was imported: about when the command started


def flow_state(flow_fn: Callable[..., Any], settings: Settings, wait: bool = True, **parameters: Any) -> Any:
    """Run a flow with these settings (the CLI is the only place that starts flows); the flow takes the
    run lock itself."""
    from flows.runtime import prefect_run_settings

    with prefect_run_settings():
        state = flow_fn(**parameters, wait_for_lock=wait, settings=settings, return_state=True)
    if state.is_failed():
        console.print(line(("The run could not complete: ", "red"), state.message))
    return state


def prefect_api_answers() -> None:
    """Before a flow starts on the Prefect server PREFECT_API_URL names: that it answers; if not, ONE line
    on stderr and exit 2 (a configuration to fix, not a run that failed)."""
    from flows.runtime import prefect_api_problem  # Prefect lives in flows/, the CLI only calls it

    if problem := prefect_api_problem():
        refuse_to_start(problem)


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM ends the command as Ctrl-C would: through its exit handlers, which stop the temporary
    Prefect server (a SIGKILL cannot be caught: the next command of the home stops the server it left)."""

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_now)


@contextmanager
def warmed_up(home: Path) -> Iterator[None]:
    """What a run with work to do waits for, side by side: Prefect's temporary server, whose own process
    boots in about 3 s, and this process's imports of the flows and GX's set-up, which take about as
    long. The server's module is imported first (alone: imports contend for the interpreter), then the
    server is started on a thread, and the flow finds it running. With PREFECT_API_URL set there is no
    temporary server to start; should the early start fail, the flow starts the server itself."""
    from flows.runtime import start_temporary_server  # Prefect lives in flows/, the CLI only calls it

    thread = start_temporary_server(home)
    try:
        yield
        from txpipe.ingest.gx_runner import prepare_validation

        prepare_validation()  # GX's import and set-up (about 2 s), while the server boots
    finally:
        if thread is not None:
            thread.join()


def not_started(error: Exception) -> typer.Exit:
    """Exit 3: another run holds the lock and we were told not to wait."""
    console.print(line(("Not started: ", "red"), error))
    return typer.Exit(3)


def lock_is_free(settings: Settings, wait: bool) -> None:
    """Wait for the run lock (or, told not to wait, exit 3 if it is held) before starting Prefect."""
    from txpipe.ops.runlock import RunLocked, run_lock

    try:
        with run_lock(settings.home, wait=wait, on_wait=on_wait):
            pass
    except RunLocked as error:
        raise not_started(error) from None


def on_wait(message: str) -> None:
    console.print(line((message, "yellow")))


StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Exit 1 when every delivery was rejected or the quarantined share passes TXPIPE_MAX_QUARANTINE_SHARE.",
    ),
]


@app.command()
def run(
    landing: LandingOption = None,
    source: SourceOption = None,
    wait: WaitOption = True,
    full_rebuild: FullOption = False,
    strict: StrictOption = False,
) -> None:
    """The main job: ingest new deliveries, then build and publish the warehouse and marts."""
    _pipeline(landing, source, wait, full_rebuild, strict, reprocess=False)


@app.command()
def reprocess(
    landing: LandingOption = None,
    source: SourceOption = None,
    wait: WaitOption = True,
    strict: StrictOption = False,
) -> None:
    """Judge every held delivery of the sources (all when no --source) again from the landing, under the
    current config, roster and reference data; then build and publish as run does."""
    _pipeline(landing, source, wait, False, strict, reprocess=True)


def _pipeline(
    landing: Path | None, source: list[str] | None, wait: bool, full_rebuild: bool, strict: bool, *, reprocess: bool
) -> None:
    from txpipe.jobs.run_job import run_if_nothing_to_do
    from txpipe.ops.runlock import RunLocked

    settings = read_settings()
    reap_stale_server(settings.home)
    where = str(landing) if landing else None
    try:  # nothing new: said at once, without starting Prefect or GX
        report = (
            None
            if reprocess
            else run_if_nothing_to_do(settings, where, source, full_rebuild, wait=wait, on_wait=on_wait)
        )
    except RunLocked as error:
        raise not_started(error) from None
    if report is None:
        apply_prefect_defaults()
        prefect_api_answers()
        stop_cleanly_on_sigterm()
        with warmed_up(settings.home):
            from flows.pipeline import pipeline_flow
        parameters = {"landing": where, "sources": source, "full_rebuild": full_rebuild, "alert": strict}
        state = flow_state(pipeline_flow, settings, wait, **parameters, reprocess=reprocess)
        if state.is_failed():
            raise typer.Exit(1)
        report = state.result()  # the run is complete and published: printing it can no longer fail it
    print_after_run(print_summary, report.records, settings)
    print_after_run(print_skipped, report.ingest.skipped)
    print_after_run(print_build, report.build, settings)
    print_after_run(print_seconds, report.seconds, time.perf_counter() - STARTED)


@app.command()
def ingest(landing: LandingOption = None, source: SourceOption = None, wait: WaitOption = True) -> None:
    """Ingest new deliveries: read, normalise, validate, store valid rows, quarantine the rest."""
    apply_prefect_defaults()
    settings = read_settings()
    lock_is_free(settings, wait)
    prefect_api_answers()
    stop_cleanly_on_sigterm()
    reap_stale_server(settings.home)
    with warmed_up(settings.home):
        from flows.ingest import ingest_flow

    state = flow_state(ingest_flow, settings, wait, landing=str(landing) if landing else None, sources=source)
    if state.is_failed():
        raise typer.Exit(1)
    run = state.result()
    print_after_run(print_summary, run.records, settings)
    print_after_run(print_skipped, run.skipped)


@app.command()
def build(wait: WaitOption = True, full_rebuild: FullOption = False) -> None:
    """Build and publish the warehouse from the lake, and export the marts."""
    apply_prefect_defaults()
    settings = read_settings()
    lock_is_free(settings, wait)
    prefect_api_answers()
    stop_cleanly_on_sigterm()
    reap_stale_server(settings.home)
    from flows.build_metrics import build_flow

    state = flow_state(build_flow, settings, wait, full_rebuild=full_rebuild)
    if state.is_failed():
        raise typer.Exit(1)
    print_after_run(print_build, state.result(), settings)


CronOption = Annotated[str | None, typer.Option(help="Cron of the nightly run (default 0 2 * * *, UTC).")]
WeeklyCronOption = Annotated[str | None, typer.Option(help="Cron of the weekly full rebuild (default 0 4 * * 0).")]
StartServerOption = Annotated[
    bool, typer.Option("--start-server", help="Also start a local Prefect server on 127.0.0.1.")
]


@app.command()
def serve(
    landing: LandingOption = None,
    source: SourceOption = None,
    nightly_cron: CronOption = None,
    weekly_cron: WeeklyCronOption = None,
    start_server: StartServerOption = False,
    port: Annotated[int, typer.Option(help="Port of the server --start-server starts.")] = 4200,
) -> None:
    """Serve the scheduled deployments (nightly pipeline, weekly full rebuild) until Ctrl-C."""
    from txpipe.ops.prefect_server import local_server

    apply_prefect_defaults()
    settings = read_settings()
    if not start_server and not os.environ.get("PREFECT_API_URL"):
        console.print(
            line(
                ("txpipe serve needs a Prefect server:", "red"),
                " use --start-server (or `make serve`), or set PREFECT_API_URL",
            )
        )
        raise typer.Exit(2)
    if not start_server:
        prefect_api_answers()
    with local_server(port) if start_server else nullcontext():
        console.print(
            line(f"Prefect UI: {os.environ['PREFECT_API_URL'].removesuffix('/api')}  (Ctrl-C stops everything)")
        )
        from flows.deployments import serve_deployments

        where = str(landing.resolve()) if landing else None
        try:
            serve_deployments(
                settings, landing=where, sources=source, nightly_cron=nightly_cron, weekly_cron=weekly_cron
            )
        except KeyboardInterrupt:
            console.print(text("stopped"))
