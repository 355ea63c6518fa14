"""The command line, the top floor: it sets up the environment, reads the settings once and starts flows.

The commands live by what they do: ``runs`` (run, ingest, build, serve: the ones that start flows),
``query`` (ad-hoc read-only SQL), ``files`` (dashboard, partner export, sample deliveries); ``output``
prints what they report, every delivered value as plain text.
"""

from __future__ import annotations

from txpipe.cli import files, query, runs  # noqa: F401  (importing a command module registers its commands)
from txpipe.cli.app import app, store_failed
from txpipe.store.objects import StoreError


def main() -> None:
    try:
        app()
    except StoreError as error:  # the store failed after the command started (read_settings checks it first)
        store_failed(error)
