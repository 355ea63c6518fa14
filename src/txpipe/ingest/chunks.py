"""The chunk-at-a-time path, kept for small deliveries judged together (txpipe.ingest.small_deliveries).

A small delivery is read whole into memory (``first_pass``: census and spool in memory), its chunks
normalised and judged in pandas and GX with other small deliveries' (``validate_many``); the outcome
rows of the whole group are made by the store stage's own query (``outcomes``: offending values,
records and warnings as columns, in SQL) and each delivery's stored by ``ChunkStore``. Large
deliveries take the set-based stages of this package instead.

``normalize`` is looked up here (``chunks.normalize``) by txpipe.ingest.small_deliveries.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest import IngestContext, Stage, constants_of, statement_setup
from txpipe.ingest.census import Census, CensusTaker
from txpipe.ingest.expectations import Verdict
from txpipe.ingest.landing import Delivery
from txpipe.ingest.readers import RowIssue, read_ahead, read_delivery
from txpipe.ingest.sources import SourceConfig, load_source_config
from txpipe.ingest.spool import Spool, frame_to_table
from txpipe.ingest.store import Tallies, add_outcome, outcome_query
from txpipe.ingest.values import (
    CANONICAL_COLUMNS,
    REPORTABLE_COLUMNS,
    ColumnPlan,
    delivered_values,
    plan_columns,
    pseudonymise,
)
from txpipe.ingest.values import normalize as normalize  # re-exported: small_deliveries calls chunks.normalize
from txpipe.ingest.workspace import issue_table, sql
from txpipe.ops.memory import release_freed_memory
from txpipe.store.lake import DeliveryFiles
from txpipe.store.ledger import DeliveryRecord


def first_pass(
    delivery: Delivery,
    ctx: IngestContext,
    scratch: Path,
    stage: Stage | None = None,
    small: duckdb.DuckDBPyConnection | None = None,
    record: DeliveryRecord | None = None,
) -> tuple[SourceConfig, ColumnPlan, Census, Spool]:
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


def deduplicated_chunks(
    record: DeliveryRecord, plan: ColumnPlan, census: Census, spool: Spool, stage: Stage
) -> Iterator[tuple[pd.DataFrame, list[RowIssue]]]:
    """The spooled chunks without their exact duplicates (counted into the record)."""
    record.ignored_columns = list(plan.ignored)
    record.rows_read = census.rows_read
    duplicates = list(census.duplicate_rows)
    for raw, issues in spool:
        stage.name = "normalise"
        keep = ~raw.index.isin(duplicates) if duplicates else np.ones(len(raw), bool)
        record.rows_duplicate += int((~keep).sum())
        yield raw[keep], issues


def judging_parameters(ctx: IngestContext, census: Census) -> dict[str, list[str]]:
    """The suite's parameters for one delivery: reference codes, and the ids its census found conflicting."""
    return {
        "nation_codes": list(ctx.reference.nation_codes),
        "activity_codes": list(ctx.reference.activity_codes),
        "conflicting_ids": list(census.conflicting_ids),
    }


# Judged together, the rows of a group's deliveries are told apart by position: delivery number
# (in the group) << POSITION_BITS | source_row. A small delivery (<= 1 MiB) has far fewer rows.
POSITION_BITS = 32


def outcomes(deliveries: list[list[tuple[Chunk, Verdict]]], ctx: IngestContext) -> list[pa.Table]:
    """The outcome rows (``store.outcome_query``: kept rows with their warnings, quarantined rows with
    reasons, offending values and record, unreadable records among them) of each delivery's judged
    chunks, in delivered order: one query for the whole group, in a small DuckDB of its own."""
    tables, issues, raw = [], [], list(REPORTABLE_COLUMNS)
    for number, judged in enumerate(deliveries):
        offset = number << POSITION_BITS
        for chunk, verdict in judged:
            columns = {name: pa.array(chunk.canonical[name], pa.string(), from_pandas=True) for name in chunk.canonical}
            columns.update({f"raw:{name}": pa.array(chunk.raw[name], pa.string(), from_pandas=True) for name in raw})
            columns.update(
                {
                    "source_row": pa.array(chunk.canonical.index.to_numpy() + offset, pa.int64()),
                    "reasons": verdict.names("critical"),
                    "warnings": verdict.names("warning"),
                }
            )
            tables.append(pa.table(columns))
            issues.append(issue_table(chunk.issues, offset))
    if not tables:  # no delivery of the group has a row: the same columns, empty
        names = [*CANONICAL_COLUMNS, *(f"raw:{name}" for name in raw)]
        tables = [
            pa.table(
                {
                    **{n: pa.array([], pa.string()) for n in names},
                    "source_row": pa.array([], pa.int64()),
                    "reasons": pa.array([], pa.list_(pa.string())),
                    "warnings": pa.array([], pa.list_(pa.string())),
                }
            )
        ]
    with duckdb.connect(":memory:", config={"threads": 1}) as con:
        con.register("chunk", pa.concat_tables(tables))
        con.register("issues", pa.concat_tables(issues) if issues else issue_table([]))
        con.execute(sql("chunk_judged"))
        outcome = outcome_query(
            con, ctx.suite, raw, list(ctx.reference.nation_codes), ctx.reference.nation_names.suggestions
        )
        rows = con.sql(
            sql("outcome_range", outcome=outcome), params={"first": -1, "last": len(deliveries) << POSITION_BITS}
        ).to_arrow_table()
    position = rows["source_row"].to_numpy()
    bounds = np.searchsorted(position, [n << POSITION_BITS for n in range(len(deliveries) + 1)])
    low = pa.scalar((1 << POSITION_BITS) - 1, pa.int64())
    return [_with_position(rows.slice(first, last - first), low) for first, last in itertools.pairwise(bounds)]


def _with_position(table: pa.Table, low: pa.Scalar) -> pa.Table:
    index = table.schema.get_field_index("source_row")
    return table.set_column(index, "source_row", pc.bit_wise_and(table["source_row"], low))


class ChunkStore:
    """Where a small delivery's outcome rows go: its lake files, and the tallies its ledger record shows."""

    def __init__(self, delivery: Delivery, ctx: IngestContext, received: dt.datetime) -> None:
        self.constants = constants_of(delivery, ctx, received)
        self.files = DeliveryFiles(ctx.settings.lake, delivery.batch_id, delivery.source, small=True)
        self.counts = Tallies()

    def add(self, outcome: pa.Table) -> None:
        add_outcome(self.files, self.counts, outcome, self.constants)

    def commit(self, record: DeliveryRecord) -> list[Path]:
        """Write the files into place and fill the record's counts; returns the files."""
        written = self.files.commit()
        self.counts.fill(record)
        return written

    def abort(self) -> None:
        self.files.abort()
