"""One delivery, end to end: read -> normalise -> drop exact duplicates -> validate -> store.

``discover`` (in :mod:`txpipe.landing`) lists the files under the landing root that the ledger has
not seen (new, or re-delivered with new content). ``ingest_delivery`` streams one file into lake files in
bounded chunks and returns its :class:`DeliveryRecord`; committing that record to the ledger is
the caller's job, done from one place so that concurrent deliveries never race on the ledger.

A delivery is read once. The first pass hands each chunk of delivered values to the census,
which counts the rows and finds exact and conflicting duplicates across the whole file, and to a
spool on local disk; the second pass reads the spool back and normalises, validates and stores
each chunk knowing the duplicates.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import PurePosixPath
import shutil
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.census import Census, CensusTaker
from txpipe.ingest.normalise import Normaliser
from txpipe.ingest.store import write
from txpipe.ingest.validate import judge
from txpipe.ingest.workspace import Workspace, sql
from txpipe.lake import DeliveryFiles
from txpipe.landing import CHANGING, Delivery, unchanged_since
from txpipe.ledger import DeliveryRecord
from txpipe.memory import prepare_for_streaming, release_freed_memory
from txpipe.normalize import CANONICAL_COLUMNS, REPORTABLE_COLUMNS, ColumnPlan, delivered_values, normalize, plan_columns, pseudonymise
from txpipe.pseudonym import Pseudonymizer
from txpipe.readers import RowIssue, UnreadableFile, read_ahead, read_delivery
from txpipe.readers.xapi import StatementSetup, read_roster
from txpipe.reference import Reference, load_reference
from txpipe.settings import Settings
from txpipe.sources import SourceConfig, SourceConfigError, load_source_config
from txpipe.spool import Spool, frame_to_table
from txpipe.validate import RowSuite, Verdict, load_suite, prepare_validation
from txpipe.validate import validate as validate_chunk


@dataclass(frozen=True)
class IngestContext:
    settings: Settings
    reference: Reference
    suite: RowSuite
    pseudonymizer: Pseudonymizer
    run_id: str

    @classmethod
    def create(cls, settings: Settings, run_id: str) -> "IngestContext":
        context = cls(
            settings=settings,
            reference=load_reference(settings.reference_dir),
            suite=load_suite(settings.expectations_dir),
            pseudonymizer=Pseudonymizer(settings.pseudonym_key),
            run_id=run_id,
        )
        prepare_validation()
        prepare_for_streaming()
        return context


STAGES = ("read", "census", "normalise", "validate", "store")


class DeliveryDeferred(Exception):
    """The file changed while it was read (it is still being written): nothing of it is kept, and the
    next run takes it once it is still. Not a failure: the run goes on and completes."""

    def __init__(self, delivery: Delivery) -> None:
        self.source, self.source_file = delivery.source, delivery.source_file
        super().__init__(f"{delivery.source}/{delivery.source_file} {CHANGING}")

    def as_report(self) -> dict[str, str]:
        return {"path": f"{self.source}/{self.source_file}", "reason": CHANGING}


class DeliveryFailed(RuntimeError):
    """A delivery failed on a bug, not on its data: which file, in which stage, and the traceback.

    The file is left out of the ledger, so the next run takes it again. The exception's own message
    is withheld (a library's message may quote a delivered value); its type and frames are kept.
    """

    def __init__(self, delivery: "Delivery", stage: str, error: BaseException) -> None:
        self.source, self.source_file, self.stage = delivery.source, delivery.source_file, stage
        self.error_type = type(error).__name__
        frames = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        self.traceback = f"Traceback (most recent call last):\n{frames}{self.error_type} (message withheld)"
        super().__init__(f"{self.source}/{self.source_file} failed in stage '{stage}' ({self.error_type})")

    def as_report(self) -> dict[str, str]:
        return {"source": self.source, "source_file": self.source_file, "stage": self.stage,
                "error": self.error_type, "traceback": self.traceback}


@dataclass
class Stage:
    """The stage a delivery is in, so that a failure can say where it happened."""

    name: str = STAGES[0]


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_record(delivery: Delivery, ctx: IngestContext, received: dt.datetime) -> DeliveryRecord:
    return DeliveryRecord(
        batch_id=delivery.batch_id, source=delivery.source, source_file=delivery.source_file,
        sha256=delivery.sha256, received_at=received.isoformat(timespec="microseconds"), status="stored",
        run_id=ctx.run_id, size=delivery.size, mtime_ns=delivery.mtime_ns,
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
            config, plan, workspace = load(delivery, ctx, scratch, stage, record)
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


def load(delivery: Delivery, ctx: IngestContext, scratch: Path, stage: Stage,
         record: DeliveryRecord) -> tuple[SourceConfig, ColumnPlan, Workspace]:
    """Read and normalise stages: the delivery's chunks into a new workspace, with their canonical values."""
    config = load_source_config(ctx.settings.sources_dir, delivery.source)
    options = config.read_options(ctx.settings.chunk_rows, ctx.settings.limits, statement_setup(delivery, config, ctx))
    delivered = read_delivery(delivery.path, options)
    plan = plan_columns(delivered.headers, config)
    normaliser = Normaliser(config, ctx.reference)
    workspace = Workspace(scratch, normaliser.rewritten, normaliser.defaults,
                          ctx.pseudonymizer.sql_parameters(config.name))
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


def judge_and_store(delivery: Delivery, ctx: IngestContext, workspace: Workspace, record: DeliveryRecord,
                    plan: ColumnPlan, received: dt.datetime, stage: Stage) -> list[Path]:
    """Census, validate and store stages, as SQL over the workspace; fills the record's counts."""
    stage.name = "census"
    for statement in ("duplicates", "conflicting_ids", "canonical"):
        workspace.con.execute(sql(statement))
    record.ignored_columns = list(plan.ignored)
    record.rows_read = workspace.count("delivered") + workspace.count("issues")
    record.rows_duplicate = workspace.count("duplicates")
    conflicting = workspace.con.sql("SELECT id FROM conflicting ORDER BY id").to_arrow_table()["id"].to_pylist()
    stage.name = "validate"
    nation_codes = list(ctx.reference.nation_codes)
    parameters = {"nation_codes": nation_codes, "activity_codes": list(ctx.reference.activity_codes),
                  "conflicting_ids": conflicting}
    judge(workspace, ctx.suite, parameters, workspace.count("delivered") - record.rows_duplicate)
    stage.name = "store"
    files = DeliveryFiles(ctx.settings.lake, delivery.batch_id, delivery.source)
    try:
        counts = write(workspace, ctx.suite, files, nation_codes, ctx.reference.nation_names.suggestions,
                       source=delivery.source, batch_id=delivery.batch_id, source_file=delivery.source_file,
                       run_id=ctx.run_id, received=received)
        written = files.commit()
    except BaseException:
        files.abort()
        raise
    record.rows_stored, record.rows_quarantined = counts.stored, counts.quarantined
    record.warnings = dict(sorted(counts.warnings.items()))
    record.quarantine_reasons = dict(sorted(counts.reasons.items()))
    record.nation_suggestions = dict(sorted(counts.suggested.items(), key=lambda item: (-item[1], item[0])))
    return written


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

    return StatementSetup(config.xapi, config.defaults, record_id, forced=config.format == "xapi",
                          roster=(lambda: read_roster(folder, roster, limits)) if roster else dict)


def first_pass(delivery: Delivery, ctx: IngestContext, scratch: Path, stage: Stage | None = None,
               small: duckdb.DuckDBPyConnection | None = None,
               record: DeliveryRecord | None = None) -> tuple[SourceConfig, ColumnPlan, Census, Spool]:
    """Read the delivery once: census every chunk and spool its delivered values for the store pass.

    participant_ref is replaced by its pseudonym before the chunk goes anywhere (the spool is on disk).
    A small delivery (``small``: an in-memory DuckDB its census shares with others) is read without
    a read-ahead thread and without returning memory after each chunk: both cost more than it holds.
    An xAPI export's statement counts go into ``record``.
    """
    stage = stage or Stage()
    config = load_source_config(ctx.settings.sources_dir, delivery.source)
    options = config.read_options(ctx.settings.chunk_rows, ctx.settings.limits, statement_setup(delivery, config, ctx))
    delivered = read_delivery(delivery.path, options)
    plan = plan_columns(delivered.headers, config)
    spool = Spool(scratch / "chunks", in_memory=small is not None)
    with CensusTaker(scratch, shared=small) as census:
        for batch in delivered.batches if small else read_ahead(delivered.batches):  # read failures surface here
            stage.name = "census"
            values = pseudonymise(delivered_values(batch.frame, plan), config.name, ctx.pseudonymizer)
            table = frame_to_table(values)
            census.add(table, len(batch.issues))
            spool.add(table, batch.issues)
            if not small:
                release_freed_memory()
            stage.name = "read"
        stage.name = "census"
        if record is not None and delivered.statements is not None:
            record.statements = asdict(delivered.statements)
        return config, plan, census.result(), spool


@dataclass
class Chunk:
    """One spooled chunk ready to judge: delivered values (exact duplicates dropped), the same rows
    made canonical, and the records the reader could not turn into rows."""

    raw: pd.DataFrame
    canonical: pd.DataFrame
    issues: list[RowIssue]


def deduplicated_chunks(record: DeliveryRecord, plan: ColumnPlan, census: Census, spool: Spool,
                        stage: Stage) -> Iterator[tuple[pd.DataFrame, list[RowIssue]]]:
    """The spooled chunks without their exact duplicates (counted into the record)."""
    record.ignored_columns = list(plan.ignored)
    record.rows_read = census.rows_read
    duplicates = list(census.duplicate_rows)
    for raw, issues in spool:
        stage.name = "normalise"
        keep = ~raw.index.isin(duplicates) if duplicates else np.ones(len(raw), bool)
        record.rows_duplicate += int((~keep).sum())
        yield raw[keep], issues


def normalised_chunks(ctx: IngestContext, record: DeliveryRecord, config: SourceConfig, plan: ColumnPlan,
                      census: Census, spool: Spool, stage: Stage) -> Iterator[Chunk]:
    """The spooled chunks, deduplicated and normalised."""
    for raw, issues in deduplicated_chunks(record, plan, census, spool, stage):
        yield Chunk(raw, normalize(raw, config, ctx.reference), issues)


def judging_parameters(ctx: IngestContext, census: Census) -> dict[str, list]:
    """The suite's parameters for one delivery: reference codes, and the ids its census found conflicting."""
    return {
        "nation_codes": list(ctx.reference.nation_codes),
        "activity_codes": list(ctx.reference.activity_codes),
        "conflicting_ids": list(census.conflicting_ids),
    }


class ChunkStore:
    """Where a delivery's judged chunks go: its lake files, and the tallies its ledger record shows."""

    def __init__(self, delivery: Delivery, ctx: IngestContext, received: dt.datetime, small: bool = False) -> None:
        self.delivery, self.ctx, self.received = delivery, ctx, received
        self.rules = {r.name: r for r in ctx.suite.rules}
        self.files = DeliveryFiles(ctx.settings.lake, delivery.batch_id, delivery.source, small)
        self.stored = self.quarantined = 0
        self.warnings: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        self.suggested: dict[str, int] = {}

    def add(self, chunk: Chunk, verdict: Verdict) -> None:
        # One mask splits the rows and their verdicts alike (all aligned to the validated frame).
        bad = verdict.quarantined()
        warnings = verdict.names("warning").filter(pa.array(~bad))
        stored = participation_table(chunk.canonical[~bad], warnings, self.delivery, self.ctx.run_id, self.received)
        quarantined = quarantine_rows(chunk.canonical[bad], chunk.raw[bad], verdict.names("critical").filter(pa.array(bad)),
                                      self.rules, chunk.issues, self.ctx.reference.nation_names.suggestions)
        self.files.add(stored, quarantine_table(quarantined, self.delivery, self.ctx.run_id, self.received))
        self.stored += stored.num_rows
        self.quarantined += len(quarantined)
        _tally(self.warnings, pc.list_flatten(warnings))
        _tally(self.reasons, pa.array([name for row in quarantined for name in row["reasons"]], pa.string()))
        _tally(self.suggested, pa.array([row[SUGGESTIONS][0] for row in quarantined if row.get(SUGGESTIONS)], pa.string()))

    def commit(self, record: DeliveryRecord) -> list[Path]:
        """Write the files into place and fill the record's counts; returns the files."""
        written = self.files.commit()
        record.rows_stored, record.rows_quarantined = self.stored, self.quarantined
        record.warnings = dict(sorted(self.warnings.items()))
        record.quarantine_reasons = dict(sorted(self.reasons.items()))
        record.nation_suggestions = dict(sorted(self.suggested.items(), key=lambda item: (-item[1], item[0])))
        return written

    def abort(self) -> None:
        self.files.abort()


def store_pass(delivery: Delivery, ctx: IngestContext, record: DeliveryRecord, config: SourceConfig,
               plan: ColumnPlan, census: Census, spool: Spool, received: dt.datetime,
               stage: Stage | None = None) -> list[Path]:
    """Normalise, validate and store the spooled chunks one at a time; fills the record's counts;
    returns the files."""
    stage = stage or Stage()
    parameters = judging_parameters(ctx, census)
    store = ChunkStore(delivery, ctx, received)
    try:
        for chunk in normalised_chunks(ctx, record, config, plan, census, spool, stage):
            stage.name = "validate"
            verdict = validate_chunk(chunk.canonical, ctx.suite, parameters)
            stage.name = "store"
            store.add(chunk, verdict)
            release_freed_memory()
        stage.name = "store"
        return store.commit(record)
    except BaseException:
        store.abort()
        raise


def _tally(counts: dict[str, int], names: pa.Array) -> None:
    """Add how often each rule name occurs in ``names``."""
    for item in pc.value_counts(names).to_pylist():
        counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]


def _json(values: dict) -> str:
    return json.dumps({k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in values.items()},
                      ensure_ascii=False, sort_keys=True)


# Offending-values key of a nation_unknown row: the closest reference nations, "Georgia (GEO)".
SUGGESTIONS = "nation_did_you_mean"


def quarantine_rows(canonical: pd.DataFrame, raw: pd.DataFrame, reasons: pa.ListArray, rules: dict,
                    issues: list[RowIssue], suggest_nations: Callable[[str], list[str]]) -> list[dict]:
    """One dict per quarantined row: its rules, the values they judged, and the whole delivered row.

    ``canonical``, ``raw`` and ``reasons`` hold the same rows in the same order."""
    rows: list[dict] = []
    if canonical.empty and not issues:
        return rows
    raw_records = raw.to_dict("records")
    pids = canonical["participant_pid"].tolist()
    for source_row, row_reasons, delivered, pid in zip(canonical.index, reasons.to_pylist(), raw_records, pids):
        columns = [c for name in row_reasons for c in rules[name].columns]
        offending = {c: (None if c == "participant_ref" else delivered.get(c)) for c in dict.fromkeys(columns)}
        if "nation_unknown" in row_reasons:
            offending[SUGGESTIONS] = suggest_nations(delivered["nation"])
        rows.append({
            "source_row": int(source_row),
            "reasons": row_reasons,
            "offending_values": _json(offending),
            "record": _json({**{c: delivered[c] for c in REPORTABLE_COLUMNS}, "participant_pid": pid}),
            SUGGESTIONS: offending.get(SUGGESTIONS),
        })
    for issue in issues:
        rows.append({"source_row": issue.source_row, "reasons": [issue.rule],
                     "offending_values": _json({"problem": issue.message}), "record": "{}"})
    return sorted(rows, key=lambda r: r["source_row"])


def _constant(value, n: int, type_: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type_), n)


def quarantine_table(rows: list[dict], delivery: Delivery, run_id: str, received: dt.datetime) -> pa.Table:
    n = len(rows)
    return pa.table({
        "batch_id": _constant(delivery.batch_id, n, pa.string()),
        "source": _constant(delivery.source, n, pa.string()),
        "source_file": _constant(delivery.source_file, n, pa.string()),
        "source_row": pa.array([r["source_row"] for r in rows], pa.int64()),
        "reasons": pa.array([r["reasons"] for r in rows], pa.list_(pa.string())),
        "offending_values": pa.array([r["offending_values"] for r in rows], pa.string()),
        "record": pa.array([r["record"] for r in rows], pa.string()),
        "ingested_at": _constant(received, n, pa.timestamp("us", tz="UTC")),
        "run_id": _constant(run_id, n, pa.string()),
    })


def participation_table(good: pd.DataFrame, warnings: pa.ListArray, delivery: Delivery, run_id: str,
                        received: dt.datetime) -> pa.Table:
    """Valid canonical rows as the lake's Arrow table (types cast in Arrow, not row by row);
    ``warnings`` holds each row's warning rules, row for row."""
    n = len(good)
    text = pa.Table.from_pandas(good, preserve_index=False)
    columns = {"source": _constant(delivery.source, n, pa.string())}
    for name in good.columns:
        column = text[name]
        if name in ("start_date", "end_date"):
            column = pc.cast(column, pa.date32())
        elif name == "headcount":
            column = pc.cast(column, pa.int32())
        elif name == "score":
            column = pc.cast(column, pa.float64())
        columns[name] = column
    columns["warnings"] = warnings
    columns["batch_id"] = _constant(delivery.batch_id, n, pa.string())
    columns["source_file"] = _constant(delivery.source_file, n, pa.string())
    columns["source_row"] = pa.array(good.index.to_numpy(), pa.int64())
    columns["ingested_at"] = _constant(received, n, pa.timestamp("us", tz="UTC"))
    columns["run_id"] = _constant(run_id, n, pa.string())
    return pa.table(columns)
