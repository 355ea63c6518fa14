"""Ingest: deliveries, in batches, through the stages read -> normalise -> pseudonymise -> census ->
validate -> store.

``discover`` (in :mod:`txpipe.ingest.landing`) lists the files under the landing root that the ledger has
not seen (new, or re-delivered with new content), and :mod:`txpipe.ingest.judgement` the held ones to
judge again (their config, roster or reference data changed). :func:`txpipe.ingest.batch.ingest_batch` runs a batch
of them (one large file, or many small ones) through the stages in one DuckDB workspace and returns one
outcome per delivery: its :class:`DeliveryRecord`, or why it is left for the next run. Committing the
records to the ledger is the caller's job, done from one place so that concurrent batches never race
on the ledger.

The stages, each a module of this package with its SQL in ``sql/``:

- read (:mod:`txpipe.ingest.readers`) and normalise (:mod:`.normalise`): the reader streams each file in
  chunks (a background thread parses the next one); each chunk's canonical values are made as Arrow
  column operations, every distinct value normalised once per delivery;
- pseudonymise and spool (:mod:`.workspace`): participant_pid computed in DuckDB from the keyed
  HMAC (``sql/participant_pids.sql``); the chunk, without its participant_ref, spooled to local disk as
  Parquet, every row tagged with its delivery's number in the batch;
- census (:mod:`.census`, ``sql/census_*.sql``): exact and conflicting duplicates within each delivery;
- validate (:mod:`.validate`): GX once per batch on the distinct value combinations of every rule
  group, set-based SQL checks on near-unique columns and on per-delivery parameters; verdicts joined
  back as columns;
- store (:mod:`.store`): per delivery, kept rows to the lake, quarantined rows with their reasons,
  offending values and record built as columns, tallies counted from the columns.

DuckDB works under a memory limit and spills to the batch's scratch folder in ``tmp/``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from txpipe.ingest.failures import DeliveryDeferred as DeliveryDeferred
from txpipe.ingest.failures import DeliveryFailed as DeliveryFailed
from txpipe.ingest.failures import Stage as Stage
from txpipe.ingest.gx_runner import prepare_validation
from txpipe.ingest.pseudonym import Pseudonymizer
from txpipe.ingest.suite import RowSuite, load_suite
from txpipe.ops.memory import prepare_for_streaming
from txpipe.reference import Reference, load_reference
from txpipe.settings import Settings
from txpipe.store.objects import Store, open_store


@dataclass(frozen=True)
class IngestContext:
    settings: Settings
    reference: Reference
    suite: RowSuite
    pseudonymizer: Pseudonymizer
    run_id: str
    # when the run's deliveries are received (the ledger's received_at): one time for the whole run, so
    # that versions of a record within a run are ordered by their files (README "What happens to each row")
    received: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def create(cls, settings: Settings, run_id: str) -> IngestContext:
        """What every delivery of a run shares: reference data, the GX suite, the pseudonymiser; and
        the ingest's process-wide set-up, made once here, after they are loaded:

        - GX's batch fingerprints made cheap and its loggers quiet (:func:`.gx_runner.prepare_validation`);
        - the Arrow allocator switched and every object alive taken out of the cycle collector's reach
          (:func:`txpipe.ops.memory.prepare_for_streaming`).

        A context is the only way into the ingest stages, so no runner can forget the set-up."""
        context = cls(
            settings=settings,
            reference=load_reference(settings.reference_dir),
            suite=load_suite(settings.expectations_dir),
            pseudonymizer=Pseudonymizer(settings.pseudonym_secret()),
            run_id=run_id,
        )
        prepare_validation()
        prepare_for_streaming()
        return context

    @property
    def store(self) -> Store:
        """Where the lake is kept (the settings' store, opened once per process)."""
        return open_store(self.settings)

    def scratch(self) -> Path:
        """A new scratch folder for one batch's workspace."""
        return self.settings.home / "tmp" / f"batch-{uuid.uuid4().hex}"
