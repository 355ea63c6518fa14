"""Plan the ingest of a landing as work items for a pool of workers (the plan flow submits one ingest run per
item to a Prefect work pool; flows/pool.py).

An item is one large delivery, or a group of small ones, as one run's ingest batches them
(txpipe.ingest.batch.plan_batches); deliveries already in the ledger (the same bytes, judged under the same
fingerprint) are dropped. An item's key is made from its batch ids: submitting it twice is idempotent, and
if two workers still ingest one delivery, the ledger's create-only commit keeps exactly one.

The deliveries of an xAPI source stay in one item: an export's voids reach the source's other exports, which
one ingest judges in passes (txpipe.jobs.ingest_job).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from txpipe.ingest.batch import plan_batches
from txpipe.ingest.judgement import Judgements
from txpipe.ingest.landing import Delivery, survey
from txpipe.ingest.sources import SourceConfigError, load_source_config
from txpipe.jobs.ingest_job import landing_root
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger


@dataclass(frozen=True)
class WorkItem:
    """Deliveries one ingest run takes: their files (``source/path``) and batch ids."""

    files: tuple[str, ...]
    batches: tuple[str, ...]
    size: int

    @property
    def key(self) -> str:
        """The item's idempotency key: the same deliveries, judged the same way, give the same key."""
        return "ingest-" + hashlib.sha256("\n".join(sorted(self.batches)).encode()).hexdigest()[:32]


def plan_work(
    settings: Settings,
    landing: str | Path | None = None,
    sources: list[str] | None = None,
    files_per_item: int | None = None,
    reprocess: bool = False,
) -> list[WorkItem]:
    """The work items of everything an ingest of ``landing`` would do now, new deliveries and held ones to
    judge again; at most ``files_per_item`` small deliveries in one item (default: as a run batches them)."""
    root = landing_root(settings, landing)
    ledger = Ledger.of(settings)
    found = survey(root, ledger, sources, settings.sources_dir)
    judgements = Judgements(settings, root, ledger)
    new = frozenset((d.source, d.source_file) for d in found.deliveries)
    again, _ = judgements.stale(sources, reprocess, new)
    todo = [judgements.prepared(d) for d in found.deliveries] + again
    xapi = _xapi_sources(settings, {d.source for d in todo})
    groups = [[d for d in todo if d.source == source] for source in sorted(xapi)]
    groups += plan_batches([d for d in todo if d.source not in xapi], files_per_item)
    return [_item(group) for group in groups if group]


def _xapi_sources(settings: Settings, names: set[str]) -> set[str]:
    """The sources among ``names`` that deliver xAPI exports (a config in error is not: its files are
    rejected, each on its own)."""
    xapi = set()
    for name in names:
        try:
            if load_source_config(settings.sources_dir, name).format == "xapi":
                xapi.add(name)
        except SourceConfigError:
            continue
    return xapi


def _item(deliveries: list[Delivery]) -> WorkItem:
    return WorkItem(
        files=tuple(f"{d.source}/{d.source_file}" for d in deliveries),
        batches=tuple(d.batch_id for d in deliveries),
        size=sum(d.size for d in deliveries),
    )
