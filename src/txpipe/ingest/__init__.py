"""One delivery, end to end, as stages: read -> normalise -> pseudonymise -> census -> validate -> store.

``discover`` (in :mod:`txpipe.ingest.landing`) lists the files under the landing root that the ledger has
not seen (new, or re-delivered with new content). ``ingest_delivery`` runs one file through the
stages and returns its :class:`DeliveryRecord`; committing that record to the ledger is the
caller's job, done from one place so that concurrent deliveries never race on the ledger.

The stages, each a module of this package with its SQL in ``sql/``:

- read (:mod:`txpipe.ingest.readers`) and normalise (:mod:`.normalise`): the reader streams the file in
  chunks (a background thread parses the next one); each chunk's canonical values are made as Arrow
  column operations, every distinct value normalised once per delivery;
- pseudonymise and spool (:mod:`.workspace`): participant_pid computed in DuckDB from the keyed
  HMAC; the chunk, without its participant_ref, spooled to local disk as Parquet;
- census (``ingest/sql/census_*.sql``, the small-delivery path's queries, over ``sql/census_rows.sql``):
  exact and conflicting duplicates across the whole delivery, in SQL over the spool;
- validate (:mod:`.validate`): GX once per delivery on the distinct value combinations of every
  rule group, set-based SQL checks on near-unique columns; verdicts joined back as columns;
- store (:mod:`.store`): kept rows to the lake, quarantined rows with their reasons, offending
  values and record built as columns, tallies counted from the columns.

DuckDB works under a memory limit and spills to the delivery's scratch folder in ``tmp/``.
Small deliveries judged together take the chunk-at-a-time path of :mod:`.chunks` (pandas and GX per
group), then the same outcome query as the store stage, once per group.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from txpipe.ingest.census import census_sql
from txpipe.ingest.expectations import RowSuite, load_suite, prepare_validation
from txpipe.ingest.failures import STAGES as STAGES
from txpipe.ingest.failures import DeliveryDeferred as DeliveryDeferred
from txpipe.ingest.failures import DeliveryFailed as DeliveryFailed
from txpipe.ingest.failures import Stage as Stage
from txpipe.ingest.landing import Delivery, unchanged_since
from txpipe.ingest.normalise import Normaliser
from txpipe.ingest.pseudonym import Pseudonymizer
from txpipe.ingest.readers import UnreadableFile, read_ahead, read_delivery
from txpipe.ingest.readers.xapi import StatementSetup, read_roster
from txpipe.ingest.sources import SourceConfig, SourceConfigError, load_source_config
from txpipe.ingest.spool import frame_to_table
from txpipe.ingest.store import delivery_constants, write
from txpipe.ingest.validate import judge
from txpipe.ingest.values import ColumnPlan, delivered_values, plan_columns
from txpipe.ingest.workspace import Workspace, sql
from txpipe.ops.memory import prepare_for_streaming, release_freed_memory
from txpipe.reference import Reference, load_reference
from txpipe.settings import Settings
from txpipe.store.lake import DeliveryFiles
from txpipe.store.ledger import DeliveryRecord


@dataclass(frozen=True)
class IngestContext:
    settings: Settings
    reference: Reference
    suite: RowSuite
    pseudonymizer: Pseudonymizer
    run_id: str

    @classmethod
    def create(cls, settings: Settings, run_id: str) -> IngestContext:
        """What every delivery of a run shares: reference data, the GX suite, the pseudonymiser.
        Loads files only; the process-wide set-up is :func:`prepare_ingest_process`."""
        return cls(
            settings=settings,
            reference=load_reference(settings.reference_dir),
            suite=load_suite(settings.expectations_dir),
            pseudonymizer=Pseudonymizer(settings.pseudonym_secret()),
            run_id=run_id,
        )


def prepare_ingest_process() -> None:
    """The process-wide set-up of a streaming ingest, made once by whoever runs one (the ingest flow,
    the benchmarks, the tests' ingest helper), after the long-lived objects (the context) are loaded:

    - GX's batch fingerprints made cheap and its loggers quiet (:func:`.expectations.prepare_validation`);
    - the Arrow allocator switched and every object alive taken out of the cycle collector's reach
      (:func:`txpipe.ops.memory.prepare_for_streaming`).

    Without it an ingest gives the same rows, only slower and with a higher peak of memory.
    """
    prepare_validation()
    prepare_for_streaming()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_record(delivery: Delivery, ctx: IngestContext, received: dt.datetime) -> DeliveryRecord:
    return DeliveryRecord(
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


def scratch_dir(ctx: IngestContext) -> Path:
    return ctx.settings.home / "tmp" / f"census-{uuid.uuid4().hex}"


def ingest_delivery(delivery: Delivery, ctx: IngestContext) -> DeliveryRecord:
    """Store one delivered file in the lake; a file that cannot be read is rejected whole."""
    received = now_utc()
    record = new_record(delivery, ctx, received)
    scratch = scratch_dir(ctx)
    stage = Stage()
    written: list[Path] = []
    if not unchanged_since(delivery):
        raise DeliveryDeferred(delivery)
    workspace: Workspace | None = None
    try:
        try:
            _config, plan, workspace = load(delivery, ctx, scratch, stage, record)
        except (UnreadableFile, SourceConfigError) as error:
            record.status, record.reason = "rejected", str(error)
        else:
            written = judge_and_store(delivery, ctx, workspace, record, plan, received, stage)
    except Exception as error:
        raise DeliveryFailed(delivery, stage.name, error) from None  # its traceback is kept, its message not
    finally:
        if workspace is not None:
            workspace.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return settle(delivery, ctx, record, written)


def load(
    delivery: Delivery, ctx: IngestContext, scratch: Path, stage: Stage, record: DeliveryRecord
) -> tuple[SourceConfig, ColumnPlan, Workspace]:
    """Read and normalise stages: the delivery's chunks into a new workspace, with their canonical values."""
    config = load_source_config(ctx.settings.sources_dir, delivery.source)
    options = config.read_options(ctx.settings.chunk_rows, ctx.settings.limits, statement_setup(delivery, config, ctx))
    delivered = read_delivery(delivery.path, options)
    plan = plan_columns(delivered.headers, config)
    normaliser = Normaliser(config, ctx.reference)
    workspace = Workspace(
        scratch, normaliser.rewritten, normaliser.defaults, ctx.pseudonymizer.sql_parameters(config.name)
    )
    try:
        for batch in read_ahead(delivered.batches):  # read failures surface here
            stage.name = "normalise"
            table = frame_to_table(delivered_values(batch.frame, plan))
            canonical = normaliser.columns(table)
            stage.name = "census"
            workspace.add(table, canonical, batch.issues)
            del table, canonical, batch
            release_freed_memory()
            stage.name = "read"
    except BaseException:
        workspace.close()
        raise
    workspace.finish()
    if delivered.statements is not None:
        record.statements = asdict(delivered.statements)
    return config, plan, workspace


def judge_and_store(
    delivery: Delivery,
    ctx: IngestContext,
    workspace: Workspace,
    record: DeliveryRecord,
    plan: ColumnPlan,
    received: dt.datetime,
    stage: Stage,
) -> list[Path]:
    """Census, validate and store stages, as SQL over the workspace; fills the record's counts."""
    stage.name = "census"
    # The census queries the small-delivery path runs (ingest/sql/census_*.sql), over the spool.
    workspace.con.execute(sql("census_rows"))
    workspace.con.execute(f"CREATE TABLE duplicates AS {census_sql('census_duplicate_rows').rstrip().rstrip(';')}")
    conflicting = [row[0] for row in workspace.con.execute(census_sql("census_conflicting_ids")).fetchall()]
    workspace.con.execute(sql("canonical"))
    rows = workspace.count("delivered")
    record.ignored_columns = list(plan.ignored)
    record.rows_read = rows + workspace.count("issues")
    record.rows_duplicate = workspace.count("duplicates")
    stage.name = "validate"
    nation_codes = list(ctx.reference.nation_codes)
    parameters = {
        "nation_codes": nation_codes,
        "activity_codes": list(ctx.reference.activity_codes),
        "conflicting_ids": conflicting,
    }
    judge(workspace, ctx.suite, parameters, rows - record.rows_duplicate)
    stage.name = "store"
    files = DeliveryFiles(ctx.settings.lake, delivery.batch_id, delivery.source)
    try:
        counts = write(
            workspace,
            ctx.suite,
            files,
            nation_codes,
            ctx.reference.nation_names.suggestions,
            constants_of(delivery, ctx, received),
        )
        written = files.commit()
    except BaseException:
        files.abort()
        raise
    counts.fill(record)
    return written


def constants_of(delivery: Delivery, ctx: IngestContext, received: dt.datetime) -> dict[str, object]:
    """The lake columns every row of the delivery holds alike."""
    return delivery_constants(
        source=delivery.source,
        batch_id=delivery.batch_id,
        source_file=delivery.source_file,
        run_id=ctx.run_id,
        received=received,
    )


def settle(delivery: Delivery, ctx: IngestContext, record: DeliveryRecord, written: list[Path]) -> DeliveryRecord:
    """The record of a delivery whose files are written, once two last checks hold: the file did not
    change while it was read (else nothing is kept and it waits for the next run), and its rows
    balance (else a bug: nothing is kept and the file is retried)."""
    if not unchanged_since(delivery):  # what was read may not be what was hashed: keep nothing
        _remove(written)
        raise DeliveryDeferred(delivery)
    record.files = [p.relative_to(ctx.settings.lake).as_posix() for p in written]
    if not record.balanced:  # a bug, never a data problem: stop before the ledger says stored
        _remove(written)
        try:
            raise AssertionError(f"row accounting does not balance for {delivery.source}/{delivery.source_file}")
        except AssertionError as error:
            raise DeliveryFailed(delivery, "store", error) from None
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
