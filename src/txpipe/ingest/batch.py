"""A batch of deliveries through the ingest stages in one workspace: :func:`ingest_batch`.

A run may bring one roster of five million rows or a thousand rosters of twenty. What a delivery
costs is then mostly fixed: GX costs about the same for 20 rows as for 20,000 (it plans a metric
graph for every expectation), so deliveries are taken in batches (:func:`plan_batches`): every large
delivery alone, small ones together. Either way a batch is one path:

- each delivery is read on its own into the batch's workspace (:mod:`txpipe.ingest.load`: its chunks
  normalised and pseudonymised with others of its source), its rows tagged with its number in the
  batch; a delivery that cannot be read is rejected, and one that fails on a bug fails, alone (its
  spooled rows are left out);
- the census, GX's judgement and the outcome query run once for the whole batch, per delivery where
  the rules say so (duplicates and conflicting ids are a delivery's own); a failure there fails
  every delivery of the batch;
- each delivery is stored, checked and settled on its own: its lake files, its record, its counts.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from txpipe.ingest import DeliveryDeferred, DeliveryFailed, IngestContext
from txpipe.ingest.census import take_census
from txpipe.ingest.landing import Delivery, unchanged_since
from txpipe.ingest.load import Loader, Member
from txpipe.ingest.normalise import Normaliser
from txpipe.ingest.sources import SourceConfigError, load_source_config
from txpipe.ingest.store import Outcomes, delivery_constants
from txpipe.ingest.validate import judge
from txpipe.ingest.workspace import SourceColumns, Workspace
from txpipe.ops.memory import release_freed_memory
from txpipe.store.lake import DeliveryFiles, remove_lake_files
from txpipe.store.ledger import DeliveryRecord

SMALL_BYTES = 1 << 20  # a delivery up to 1 MiB is small: it shares a batch ...
BATCH_BYTES = 16 << 20  # ... of at most this many bytes of deliveries ...
BATCH_FILES = 250  # ... and at most this many files

Outcome = DeliveryRecord | DeliveryFailed | DeliveryDeferred


def plan_batches(deliveries: list[Delivery], batch_files: int | None = None) -> list[list[Delivery]]:
    """Every large delivery alone, in a batch of its own as it comes; small ones gathered in batches (of at
    most ``batch_files`` files, default BATCH_FILES) in the order they come (a batch is planned once it is
    full, or at the end)."""
    batch_files = batch_files or BATCH_FILES
    batches: list[list[Delivery]] = []
    current: list[Delivery] = []
    size = 0
    for delivery in deliveries:
        if delivery.size > SMALL_BYTES:
            batches.append([delivery])
            continue
        if current and (size + delivery.size > BATCH_BYTES or len(current) >= batch_files):
            batches.append(current)
            current, size = [], 0
        current.append(delivery)
        size += delivery.size
    if current:
        batches.append(current)
    return batches


def ingest_batch(deliveries: list[Delivery], ctx: IngestContext) -> list[Outcome]:
    """Ingest the deliveries; one outcome each, in their order: the record (stored or rejected), or
    the DeliveryFailed / DeliveryDeferred that says why it is left for the next run.

    What a file's bytes make txpipe do never blocks later runs: a crash while a delivery is read,
    normalised or stored rejects that delivery, with the stage and the error's type as its reason,
    and it is recorded (so not retried until the file changes); a crash in a stage the batch shares
    (census, validate, the outcome query) has each of its deliveries tried again alone, so that only
    the one whose bytes cause it is rejected. Only a failure about the machine or the set-up (the
    disk, memory, the suite on disk) leaves deliveries out of the ledger, to be retried."""
    outcomes = _ingest(deliveries, ctx)
    if len(deliveries) > 1:
        for number, outcome in enumerate(outcomes):
            if isinstance(outcome, DeliveryFailed) and outcome.whole_batch and not outcome.environmental:
                [outcomes[number]] = _ingest([deliveries[number]], ctx)
    return outcomes


def _ingest(deliveries: list[Delivery], ctx: IngestContext) -> list[Outcome]:
    received = ctx.received
    outcomes: dict[int, Outcome] = {}
    members: list[Member] = []
    for number, delivery in enumerate(deliveries):
        admitted = _admit(number, delivery, ctx, received)
        if isinstance(admitted, Member):
            members.append(admitted)
        else:
            outcomes[number] = admitted
    if members:
        scratch = ctx.scratch()
        try:
            outcomes.update(_ingest_members(members, ctx, scratch, received))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            release_freed_memory()
    return [outcomes[number] for number in range(len(deliveries))]


def _admit(number: int, delivery: Delivery, ctx: IngestContext, received: dt.datetime) -> Member | Outcome:
    """The delivery as a member of the batch, or its outcome already: deferred (still being written)
    or rejected (its source folder's config is wrong)."""
    if not unchanged_since(delivery):
        return DeliveryDeferred(delivery)
    record = DeliveryRecord(
        batch_id=delivery.batch_id,
        source=delivery.source,
        source_file=delivery.source_file,
        sha256=delivery.sha256,
        received_at=delivery.received_at or received.isoformat(timespec="microseconds"),
        status="stored",
        run_id=ctx.run_id,
        size=delivery.size,
        mtime_ns=delivery.mtime_ns,
        judged_under=delivery.judged_under or None,
        rejudged=delivery.rejudges,
        judged_at=received.isoformat(timespec="microseconds"),
    )
    try:
        config = load_source_config(ctx.settings.sources_dir, delivery.source)
    except SourceConfigError as error:
        record.status, record.reason = "rejected", str(error)
        return _settled(delivery, ctx, record, [])
    except Exception as error:
        return DeliveryFailed(delivery, "read", error)
    return Member(number, delivery, record, config)


def _ingest_members(
    members: list[Member], ctx: IngestContext, scratch: Path, received: dt.datetime
) -> dict[int, Outcome]:
    configs = {m.config.name: m.config for m in members}
    normalisers = {name: Normaliser(config, ctx.reference) for name, config in configs.items()}
    columns = {
        name: SourceColumns(tuple(n.rewritten), n.defaults, ctx.pseudonymizer.sql_parameters(name))
        for name, n in normalisers.items()
    }
    workspace = Workspace(scratch, sorted({c for source in columns.values() for c in source.kept_raw}))
    try:
        loader = Loader(ctx, workspace, normalisers, columns)
        for member in members:
            loader.read(member)
        loader.flush()
        outcomes: dict[int, Outcome] = {
            m.number: loader.left_out[m.number] or _settled(m.delivery, ctx, m.record, [])
            for m in members
            if m.number in loader.left_out
        }
        loaded = [m for m in members if m.number not in loader.left_out]
        if loaded:
            outcomes.update(_judge_and_store(loaded, ctx, workspace, received))
        alone = len(loaded) == 1
        for m in members:
            failure = outcomes[m.number]
            if isinstance(failure, DeliveryFailed) and not failure.environmental and (alone or not failure.whole_batch):
                outcomes[m.number] = _settled(m.delivery, ctx, _rejected_for(m.record, failure), [])
        return outcomes
    finally:
        workspace.close()


def _judge_and_store(
    members: list[Member], ctx: IngestContext, workspace: Workspace, received: dt.datetime
) -> dict[int, Outcome]:
    """Census, validate and the outcome query once for the batch (a failure fails every member),
    then each member stored and settled alone."""
    stage = "census"
    try:
        workspace.finish()
        take_census(workspace)
        rows, issues, duplicates = (workspace.count(t) for t in ("delivered", "issues", "duplicates"))
        for m in members:
            m.record.rows_read = rows.get(m.number, 0) + issues.get(m.number, 0)
            m.record.rows_duplicate = duplicates.get(m.number, 0)
        stage = "validate"
        parameters = {
            "nation_codes": list(ctx.reference.nation_codes),
            "activity_codes": list(ctx.reference.activity_codes),
        }
        judge(workspace, ctx.suite, parameters, sum(rows.values()) - sum(duplicates.values()))
        stage = "store"
        nation_codes = list(ctx.reference.nation_codes)
        outcomes = Outcomes(workspace, ctx.suite, nation_codes, ctx.reference.nation_names.suggestions, len(members))
    except Exception as error:
        return {m.number: DeliveryFailed(m.delivery, stage, error, whole_batch=True) for m in members}
    return {m.number: _store(m, ctx, outcomes, received) for m in members}


def _store(member: Member, ctx: IngestContext, outcomes: Outcomes, received: dt.datetime) -> Outcome:
    delivery, record = member.delivery, member.record
    member.stage.name = "store"
    files = DeliveryFiles(ctx.store, delivery.batch_id, delivery.source, rows=record.rows_read)
    constants = delivery_constants(
        source=delivery.source,
        batch_id=delivery.batch_id,
        source_file=delivery.source_file,
        run_id=ctx.run_id,
        received=received,
    )
    try:
        tallies = outcomes.write(member.number, files, constants)
        written = files.commit()
    except Exception as error:
        files.abort()
        return DeliveryFailed(delivery, "store", error)
    tallies.fill(record)
    for rule, count in member.reader_warnings.items():
        record.warnings[rule] = record.warnings.get(rule, 0) + count
    return _settled(delivery, ctx, record, written)


def _settled(delivery: Delivery, ctx: IngestContext, record: DeliveryRecord, written: list[str]) -> Outcome:
    """The record of a delivery whose files are written, once two last checks hold: the file did not
    change while it was read (else nothing is kept and it waits for the next run), and its rows
    balance (else a bug: nothing is kept and the file is retried)."""
    if not unchanged_since(delivery):  # what was read may not be what was hashed: keep nothing
        remove_lake_files(ctx.store, written)
        return DeliveryDeferred(delivery)
    record.files = written
    if not record.balanced:  # a bug, never a data problem: stop before the ledger says stored
        remove_lake_files(ctx.store, written)
        try:
            raise AssertionError(f"row accounting does not balance for {delivery.source}/{delivery.source_file}")
        except AssertionError as error:
            return DeliveryFailed(delivery, "store", error)
    return record


def _rejected_for(record: DeliveryRecord, failure: DeliveryFailed) -> DeliveryRecord:
    """The record of a delivery whose bytes made a stage crash: rejected, nothing of it stored."""
    record.status = "rejected"
    record.reason = (
        f"the file could not be ingested: {failure.error_type} in stage {failure.stage} (a txpipe limitation "
        "or bug; the file is recorded and not tried again until it changes)"
    )
    record.rows_read = record.rows_stored = record.rows_quarantined = record.rows_duplicate = 0
    record.statements = record.physical = None
    record.voids = []
    record.ignored_columns, record.warnings, record.quarantine_reasons, record.nation_suggestions = [], {}, {}, {}
    return record
