"""The chunk-at-a-time path, kept for small deliveries judged together (txpipe.small_deliveries).

A small delivery is read whole into memory (``first_pass``: census and spool in memory), its chunks
normalised and judged in pandas and GX with other small deliveries' (``validate_many``), and stored
by ``ChunkStore``. Large deliveries take the set-based stages of this package instead.

``normalize`` is looked up here (``chunks.normalize``) by txpipe.small_deliveries.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.census import Census, CensusTaker
from txpipe.ingest import IngestContext, Stage, statement_setup
from txpipe.lake import DeliveryFiles
from txpipe.landing import Delivery
from txpipe.ledger import DeliveryRecord
from txpipe.memory import release_freed_memory
from txpipe.normalize import (  # noqa: F401 - normalize: txpipe.small_deliveries calls chunks.normalize
    REPORTABLE_COLUMNS, ColumnPlan, delivered_values, normalize, plan_columns, pseudonymise,
)
from txpipe.readers import RowIssue, read_ahead, read_delivery
from txpipe.sources import SourceConfig, load_source_config
from txpipe.spool import Spool, frame_to_table
from txpipe.validate import Verdict


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


def _tally(counts: dict[str, int], names: pa.Array) -> None:
    """Add how often each rule name occurs in ``names``."""
    for item in pc.value_counts(names).to_pylist():
        counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]


def _json(values: dict) -> str:
    return json.dumps({k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in values.items()},
                      ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # as the set-based path writes


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
