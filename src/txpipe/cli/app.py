"""The command line's shared parts: the Typer app, the console, the options several commands take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from txpipe.cli.output import stderr_line
from txpipe.settings import Settings, unwritable_folder

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="txpipe: partnership training and exercise participation pipeline."
)

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

# The commands that write under TXPIPE_HOME (the lake, the ledger, the warehouse, reports, the dashboard's
# cache): their settings are refused when the home is not a writable folder. `query` only reads, and
# `export` and `generate` write where they are told (export checks its own folder).
WRITE_IN_HOME = frozenset({"run", "ingest", "build", "serve", "dashboard"})
# The commands that write the store (TXPIPE_STORE) and those that only read it: an S3 store they cannot use (out
# of reach, credentials refused; for writers, no conditional writes) is refused before they start. A key that may
# only read serves the readers. `generate` never touches the store.
WRITE_THE_STORE = frozenset({"run", "ingest", "build", "serve", "reprocess"})
READ_THE_STORE = frozenset({"query", "export", "dashboard"})
_invoked: list[str | None] = [None]  # the command this process runs, as the app's callback was told


@app.callback()
def _note_the_command(ctx: typer.Context) -> None:
    # Before every command: which one it is, for read_settings (the callback has no help of its own).
    _invoked[0] = ctx.invoked_subcommand


def refuse_to_start(reason: object) -> NoReturn:
    """Exit 2: the command was refused before it started, ONE line on stderr saying why."""
    stderr_line(("Not started: ", "red"), reason)
    raise typer.Exit(2)


def read_settings() -> Settings:
    """The settings of this run, read once from the TXPIPE_ variables; a wrong one exits 2 with why, and so
    does a TXPIPE_HOME that the command cannot write in when it writes there (WRITE_IN_HOME)."""
    try:
        settings = Settings.from_env()
    except ValueError as error:
        refuse_to_start(error)
    if _invoked[0] in WRITE_IN_HOME and (why := unwritable_folder(settings.home)):
        refuse_to_start(why)
    if settings.store and _invoked[0] in WRITE_THE_STORE | READ_THE_STORE:
        from txpipe.store.objects import StoreError, open_store
        from txpipe.warehouse.publish import POINTER

        try:  # opened once per process: the commands find it open (writers: probed; readers: the pointer looked up)
            open_store(settings).check(write=_invoked[0] in WRITE_THE_STORE, key=POINTER)
        except StoreError as error:  # its message is one line naming TXPIPE_STORE, never a credential
            refuse_to_start(error)
    return settings


def store_failed(error: Exception) -> NoReturn:
    """Exit 1: the store failed while the command ran (it was usable when the command started): ONE line on
    stderr, never a traceback (a StoreError's message names TXPIPE_STORE and never holds a credential)."""
    stderr_line(("Stopped: ", "red"), error)
    raise SystemExit(1)
