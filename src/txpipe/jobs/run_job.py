"""The main job's own decision: when a run has nothing to do (when it needs a human: ops.health)."""

from __future__ import annotations

from pathlib import Path

from txpipe.ingest.landing import anything_new
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.warehouse.publish import PublishedBuild, current_build


def nothing_to_do(
    settings: Settings, landing: Path, sources: list[str] | None = None, full_rebuild: bool = False
) -> PublishedBuild | None:
    """The last publish, when there is nothing to ingest under ``landing`` and nothing to publish (no
    file new or changed, and nothing a build reads changed since): then no flow need run. Else None."""
    previous = None if full_rebuild else current_build(settings)
    if previous and not anything_new(landing, Ledger(settings.ledger_dir), sources, settings.sources_dir):
        return previous
    return None
