"""The command line's shared parts: the Typer app, the console, the options several commands take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from txpipe.cli.output import console, line
from txpipe.settings import Settings

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


def read_settings() -> Settings:
    """The settings of this run, read once from the TXPIPE_ variables; a wrong one exits 2 with why."""
    try:
        return Settings.from_env()
    except ValueError as error:
        console.print(line(("Not started: ", "red"), error))
        raise typer.Exit(2) from None
