"""A batch of deliveries through the ingest stages in one workspace: :func:`ingest_batch`.

A run may bring one roster of five million rows or a thousand rosters of twenty. What a delivery
costs is then mostly fixed: GX costs about the same for 20 rows as for 20,000 (it plans a metric
graph for every expectation), so deliveries are taken in batches (:func:`plan_batches`): every large
delivery alone, small ones together. Either way a batch is one path:

- each delivery is read, normalised and pseudonymised on its own into the batch's workspace, its
  rows tagged with its number in the batch; a delivery that cannot be read is rejected, and one that
  fails on a bug fails, alone (its spooled rows are dropped);
- the census, GX's judgement and the outcome query run once for the whole batch, per delivery where
  the rules say so (duplicates and conflicting ids are a delivery's own); a failure there fails
  every delivery of the batch;
- each delivery is stored, checked and settled on its own: its lake files, its record, its counts.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import pyarrow as pa

from txpipe.ingest import DeliveryDeferred, DeliveryFailed, IngestContext, Stage
from txpipe.ingest.census import take_census
from txpipe.ingest.landing import Delivery, unchanged_since
from txpipe.ingest.normalise import Normaliser
from txpipe.ingest.readers import UnreadableFile, read_ahead, read_delivery
from txpipe.ingest.readers.xapi import StatementSetup, read_roster
from txpipe.ingest.sources import SourceConfig, SourceConfigError, load_source_config
from txpipe.ingest.store import Outcomes, delivery_constants
from txpipe.ingest.validate import judge
from txpipe.ingest.values import delivered_values, plan_columns
from txpipe.ingest.workspace import DELIVERY, SourceColumns, Workspace, frame_table
from txpipe.ops.memory import release_freed_memory
from txpipe.store.lake import DeliveryFiles
from txpipe.store.ledger import DeliveryRecord

SMALL_BYTES = 1 << 20  # a delivery up to 1 MiB is small: it shares a batch ...
BATCH_BYTES = 16 << 20  # ... of at most this many bytes of deliveries ...
BATCH_FILES = 250  # ... and at most this many files
HOLD_ROWS = 50_000  # chunks are held until this many rows are, then normalised and spooled together
RELEASE_ROWS = 10_000  # after spooling at least this many rows, freed memory is handed back to the OS

Outcome = DeliveryRecord | DeliveryFailed | DeliveryDeferred


def plan_batches(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """Every large delivery alone, in a batch of its own as it comes; small ones gathered in batches in
    the order they come (a batch is planned once it is full, or at the end)."""
    batches: list[list[Delivery]] = []
    current: list[Delivery] = []
    size = 0
    for delivery in deliveries:
        if delivery.size > SMALL_BYTES:
            batches.append([delivery])
            continue
        if current and (size + delivery.size > BATCH_BYTES or len(current) >= BATCH_FILES):
            batches.append(current)
            current, size = [], 0
        current.append(delivery)
        size += delivery.size
    if current:
        batches.append(current)
    return batches


@dataclass
class _Member:
    """A delivery of the batch while it is ingested."""

    number: int  # its number in the batch: the workspace's ``delivery`` column
    delivery: Delivery
    record: DeliveryRecord
    config: SourceConfig
    stage: Stage = field(default_factory=Stage)


def ingest_batch(deliveries: list[Delivery], ctx: IngestContext) -> list[Outcome]:
    """Ingest the deliveries; one outcome each, in their order: the record (stored or rejected), or
    the DeliveryFailed / DeliveryDeferred that says why it is left for the next run."""
    received = now_utc()
    outcomes: dict[int, Outcome] = {}
    members: list[_Member] = []
    for number, delivery in enumerate(deliveries):
        admitted = _admit(number, delivery, ctx, received)
        if isinstance(admitted, _Member):
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


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _admit(number: int, delivery: Delivery, ctx: IngestContext, received: dt.datetime) -> _Member | Outcome:
    """The delivery as a member of the batch, or its outcome already: deferred (still being written)
    or rejected (its source folder's config is wrong)."""
    if not unchanged_since(delivery):
        return DeliveryDeferred(delivery)
    record = DeliveryRecord(
        batch_id=delivery.batch_id,
        source=delivery.source,
        source_file=delivery.source_file,
        sha256=delivery.sha256,
        received_at=received.isoformat(timespec="microseconds"),
        status="stored",
        run_id=ctx.run_id,
        size=delivery.size,
        mtime_ns=delivery.mtime_ns,
    )
    try:
        config = load_source_config(ctx.settings.sources_dir, delivery.source)
    except SourceConfigError as error:
        record.status, record.reason = "rejected", str(error)
        return _settled(delivery, ctx, record, [])
    except Exception as error:
        return DeliveryFailed(delivery, "read", error)
    return _Member(number, delivery, record, config)


def _ingest_members(
    members: list[_Member], ctx: IngestContext, scratch: Path, received: dt.datetime
) -> dict[int, Outcome]:
    configs = {m.config.name: m.config for m in members}
    normalisers = {name: Normaliser(config, ctx.reference) for name, config in configs.items()}
    columns = {
        name: SourceColumns(tuple(n.rewritten), n.defaults, ctx.pseudonymizer.sql_parameters(name))
        for name, n in normalisers.items()
    }
    workspace = Workspace(scratch, sorted({c for source in columns.values() for c in source.kept_raw}))
    try:
        loader = _Loader(ctx, workspace, normalisers, columns)
        for member in members:
            loader.read(member)
        loader.flush()
        loaded = [m for m in members if m.number not in loader.outcomes]
        if loaded:
            loader.outcomes.update(_judge_and_store(loaded, ctx, workspace, received))
        return loader.outcomes
    finally:
        workspace.close()


@dataclass
class _Held:
    """A chunk read and not yet normalised."""

    member: _Member
    table: pa.Table


class _Loader:
    """Read, normalise and pseudonymise stages: each member read on its own into the workspace; its
    chunks held until ``HOLD_ROWS`` rows are, then normalised and spooled together, per source (a
    large delivery's chunks go on at once). A member that cannot be read is rejected, one that fails
    on a bug fails, alone: ``outcomes``."""

    def __init__(
        self,
        ctx: IngestContext,
        workspace: Workspace,
        normalisers: dict[str, Normaliser],
        columns: dict[str, SourceColumns],
    ) -> None:
        self.ctx, self.workspace, self.normalisers, self.columns = ctx, workspace, normalisers, columns
        self.outcomes: dict[int, Outcome] = {}
        self.held: list[_Held] = []

    def read(self, member: _Member) -> None:
        delivery, record, config = member.delivery, member.record, member.config
        try:
            setup = statement_setup(delivery, config, self.ctx)
            options = config.read_options(self.ctx.settings.chunk_rows, self.ctx.settings.limits, setup)
            delivered = read_delivery(delivery.path, options)
            plan = plan_columns(delivered.headers, config)
            for batch in read_ahead(delivered.batches):  # read failures surface here
                table = frame_table(delivered_values(batch.frame, plan))
                self.workspace.note_chunk(member.number, table, batch.issues)
                self.held.append(_Held(member, table))
                if sum(h.table.num_rows for h in self.held) >= HOLD_ROWS:
                    self.flush()
            record.ignored_columns = list(plan.ignored)
            if delivered.statements is not None:
                record.statements = asdict(delivered.statements)
        except (UnreadableFile, SourceConfigError) as error:
            record.status, record.reason = "rejected", str(error)
            self._leave_out(member, _settled(delivery, self.ctx, record, []))
        except Exception as error:
            self._leave_out(member, DeliveryFailed(delivery, member.stage.name, error))

    def _leave_out(self, member: _Member, outcome: Outcome) -> None:
        self.held = [h for h in self.held if h.member is not member]
        self.workspace.drop(member.number)
        self.outcomes[member.number] = outcome

    def flush(self) -> None:
        """Normalise and spool the held chunks, those of one source together; if that fails, member by
        member, so that only the culprit fails."""
        held, self.held = self.held, []
        by_source: dict[str, list[_Held]] = {}
        for item in held:
            if item.member.number not in self.outcomes:
                by_source.setdefault(item.member.config.name, []).append(item)
        for source, items in by_source.items():
            try:
                self._spool(source, items)
            except Exception:
                for member in {id(i.member): i.member for i in items}.values():
                    try:
                        self._spool(source, [i for i in items if i.member is member])
                    except Exception as error:
                        self._leave_out(member, DeliveryFailed(member.delivery, member.stage.name, error))
        if sum(h.table.num_rows for h in held) >= RELEASE_ROWS:
            del held, by_source
            release_freed_memory()

    def _spool(self, source: str, items: list[_Held]) -> None:
        for item in items:
            item.member.stage.name = "normalise"
        numbers = [pa.repeat(pa.scalar(i.member.number, pa.int32()), i.table.num_rows) for i in items]
        table = pa.concat_tables([i.table for i in items]) if len(items) > 1 else items[0].table
        table = table.add_column(1, DELIVERY, pa.chunked_array(numbers, pa.int32()))
        canonical = self.normalisers[source].columns(table)
        for item in items:
            item.member.stage.name = "census"
        self.workspace.add(table, canonical, self.columns[source])
        for item in items:
            item.member.stage.name = "read"


def _judge_and_store(
    members: list[_Member], ctx: IngestContext, workspace: Workspace, received: dt.datetime
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
        return {m.number: DeliveryFailed(m.delivery, stage, error) for m in members}
    return {m.number: _store(m, ctx, outcomes, received) for m in members}


def _store(member: _Member, ctx: IngestContext, outcomes: Outcomes, received: dt.datetime) -> Outcome:
    delivery, record = member.delivery, member.record
    member.stage.name = "store"
    files = DeliveryFiles(ctx.settings.lake, delivery.batch_id, delivery.source, rows=record.rows_read)
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
    return _settled(delivery, ctx, record, written)


def _settled(delivery: Delivery, ctx: IngestContext, record: DeliveryRecord, written: list[Path]) -> Outcome:
    """The record of a delivery whose files are written, once two last checks hold: the file did not
    change while it was read (else nothing is kept and it waits for the next run), and its rows
    balance (else a bug: nothing is kept and the file is retried)."""
    if not unchanged_since(delivery):  # what was read may not be what was hashed: keep nothing
        _remove(written)
        return DeliveryDeferred(delivery)
    record.files = [p.relative_to(ctx.settings.lake).as_posix() for p in written]
    if not record.balanced:  # a bug, never a data problem: stop before the ledger says stored
        _remove(written)
        try:
            raise AssertionError(f"row accounting does not balance for {delivery.source}/{delivery.source_file}")
        except AssertionError as error:
            return DeliveryFailed(delivery, "store", error)
    return record


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def statement_setup(delivery: Delivery, config: SourceConfig, ctx: IngestContext) -> StatementSetup:
    """How this delivery's statements become records, if it holds xAPI statements (README "xAPI
    sources"): source_record_id is a keyed hash; the roster is read from the source folder if needed."""
    folder = delivery.path.parents[len(PurePosixPath(delivery.source_file).parts) - 1]
    roster, limits = config.xapi.roster, ctx.settings.limits

    def record_id(key: str) -> str:
        return ctx.pseudonymizer.pid(delivery.source, f"xapi-record\x1f{key}")

    return StatementSetup(
        config.xapi,
        config.defaults,
        record_id,
        forced=config.format == "xapi",
        roster=(lambda: read_roster(folder, roster, limits)) if roster else dict,
    )
