"""Many small deliveries ingested as one: each is read, counted and stored on its own, but GX
judges all their rows in one call.

A run may bring a thousand rosters of twenty rows. What a delivery costs is then mostly fixed:
a GX validation costs about the same for 20 rows as for 20,000 (it plans a metric graph for
every expectation). So small deliveries are taken in groups: every delivery of the group goes
through the first pass (read, census, spool) and normalisation alone, exactly as it would by
itself; then the rows of all of them are validated together (``validate_many``: one GX call for
the rules they share parameters for, one per delivery only for conflicting_duplicate, whose
parameter is the delivery's own conflicting ids) and the verdicts split back; then each delivery
is stored and settled alone. Each delivery keeps its own outcome: a rejected file, a crash or a
file that changed while read affects that delivery only.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from txpipe.ingest import (
    DeliveryDeferred,
    DeliveryFailed,
    IngestContext,
    Stage,
    chunks,
    ingest_delivery,
    new_record,
    now_utc,
    scratch_dir,
    settle,
)
from txpipe.ingest.chunks import Chunk, ChunkStore, deduplicated_chunks, first_pass, judging_parameters, outcomes
from txpipe.ingest.expectations import validate_many
from txpipe.ingest.landing import Delivery, unchanged_since
from txpipe.ingest.readers import RowIssue, UnreadableFile
from txpipe.ingest.sources import SourceConfig, SourceConfigError
from txpipe.ops.memory import release_freed_memory
from txpipe.store.ledger import DeliveryRecord

SMALL_BYTES = 1 << 20  # a delivery up to 1 MiB is small
GROUP_BYTES = 16 << 20  # a group holds at most this many bytes of deliveries ...
GROUP_FILES = 250  # ... and at most this many files
SMALL_CENSUS_MEMORY = "256MB"  # the in-memory DuckDB the group's censuses share

Outcome = DeliveryRecord | DeliveryFailed | DeliveryDeferred


def plan_groups(deliveries: list[Delivery]) -> list[list[Delivery]]:
    """Deliveries in the order they come, small ones gathered in groups, every large one alone."""
    groups: list[list[Delivery]] = []
    current: list[Delivery] = []
    size = 0
    for delivery in deliveries:
        if delivery.size > SMALL_BYTES:
            groups.append([delivery])
            continue
        if current and (size + delivery.size > GROUP_BYTES or len(current) >= GROUP_FILES):
            groups.append(current)
            current, size = [], 0
        current.append(delivery)
        size += delivery.size
    if current:
        groups.append(current)
    return groups


@dataclass
class _Pending:
    """A delivery of the group between its first pass and its store."""

    delivery: Delivery
    record: DeliveryRecord
    parameters: dict[str, list[str]]
    config: SourceConfig
    raws: list[tuple[pd.DataFrame, list[RowIssue]]]  # deduplicated delivered values, chunk by chunk
    chunks: list[Chunk] = field(default_factory=list)  # the same, normalised
    stage: Stage = field(default_factory=Stage)


def ingest_group(deliveries: list[Delivery], ctx: IngestContext) -> list[Outcome]:
    """Ingest the deliveries; one outcome each, in their order: the record (stored or rejected), or
    the DeliveryFailed / DeliveryDeferred that says why it is left for the next run."""
    if len(deliveries) == 1:
        return [_alone(deliveries[0], ctx)]
    received = now_utc()
    outcomes: dict[int, Outcome] = {}
    pending: dict[int, _Pending] = {}
    census_db = duckdb.connect(":memory:", config={"memory_limit": SMALL_CENSUS_MEMORY})
    for number, delivery in enumerate(deliveries):
        outcome = _prepare(delivery, ctx, received, census_db)
        if isinstance(outcome, _Pending):
            pending[number] = outcome
        else:
            outcomes[number] = outcome
    census_db.close()
    outcomes.update(_normalise(pending, ctx))
    pending = {n: item for n, item in pending.items() if n not in outcomes}
    outcomes.update(_judge_and_store(pending, ctx, received))
    os.sync()  # the group's lake files are durable before any of its ledger records is written
    release_freed_memory()
    return [outcomes[number] for number in range(len(deliveries))]


def _alone(delivery: Delivery, ctx: IngestContext) -> Outcome:
    try:
        return ingest_delivery(delivery, ctx)
    except (DeliveryFailed, DeliveryDeferred) as outcome:
        return outcome


def _prepare(
    delivery: Delivery, ctx: IngestContext, received: dt.datetime, census_db: duckdb.DuckDBPyConnection
) -> Outcome | _Pending:
    """First pass of one delivery, its exact duplicates dropped (its chunks kept: it is small)."""
    if not unchanged_since(delivery):
        return DeliveryDeferred(delivery)
    record = new_record(delivery, ctx, received)
    scratch = scratch_dir(ctx)
    stage = Stage()
    try:
        try:
            config, plan, census, spool = first_pass(delivery, ctx, scratch, stage, small=census_db, record=record)
        except (UnreadableFile, SourceConfigError) as error:
            record.status, record.reason = "rejected", str(error)
            return _settled(delivery, ctx, record, [])
        # The chunks stay memory-mapped from the spool: the mapping outlives the removal of its file.
        raws = list(deduplicated_chunks(record, plan, census, spool, stage))
        return _Pending(delivery, record, judging_parameters(ctx, census), config, raws, stage=stage)
    except Exception as error:
        return DeliveryFailed(delivery, stage.name, error)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _normalise(pending: dict[int, _Pending], ctx: IngestContext) -> dict[int, Outcome]:
    """Normalise the pending deliveries, those of one source together (normalisation is row by row,
    given the source's config); if that fails, one by one, so that only the culprit fails."""
    by_source: dict[str, list[int]] = {}
    for number, item in pending.items():
        by_source.setdefault(item.delivery.source, []).append(number)
    failed: dict[int, Outcome] = {}
    for numbers in by_source.values():
        try:
            _normalise_together([pending[n] for n in numbers], ctx)
        except Exception:
            for number in numbers:
                item = pending[number]
                try:
                    _normalise_together([item], ctx)
                except Exception as error:
                    failed[number] = DeliveryFailed(item.delivery, "normalise", error)
    return failed


def _normalise_together(items: list[_Pending], ctx: IngestContext) -> None:
    raws = [raw for item in items for raw, _ in item.raws]
    if not raws:
        return
    canonical = chunks.normalize(pd.concat(raws), items[0].config, ctx.reference)
    start = 0
    for item in items:
        item.chunks = []
        for raw, issues in item.raws:
            item.chunks.append(Chunk(raw, canonical.iloc[start : start + len(raw)], issues))
            start += len(raw)


def _judge_and_store(pending: dict[int, _Pending], ctx: IngestContext, received: dt.datetime) -> dict[int, Outcome]:
    """Every chunk of every pending delivery judged in one go, their outcome rows made in one query,
    then each delivery stored alone."""
    items = list(pending.values())
    chunks = [(chunk, item.parameters) for item in items for chunk in item.chunks]
    try:
        verdicts = iter(validate_many([c.canonical for c, _ in chunks], ctx.suite, [p for _, p in chunks]))
        judged = [[(chunk, next(verdicts)) for chunk in item.chunks] for item in items]
    except Exception as error:  # GX itself failed: every delivery judged in the call fails alike
        return {n: DeliveryFailed(item.delivery, "validate", error) for n, item in pending.items()}
    try:
        tables = outcomes(judged, ctx)
    except Exception as error:  # the group's outcome query failed: its deliveries fail alike
        return {n: DeliveryFailed(item.delivery, "store", error) for n, item in pending.items()}
    return {
        number: _store(item, table, ctx, received)
        for (number, item), table in zip(pending.items(), tables, strict=True)
    }


def _store(item: _Pending, outcome: pa.Table, ctx: IngestContext, received: dt.datetime) -> Outcome:
    item.stage.name = "store"
    store = ChunkStore(item.delivery, ctx, received)
    try:
        store.add(outcome)
        written = store.commit(item.record)
    except Exception as error:
        store.abort()
        return DeliveryFailed(item.delivery, "store", error)
    return _settled(item.delivery, ctx, item.record, written)


def _settled(delivery: Delivery, ctx: IngestContext, record: DeliveryRecord, written: list[Path]) -> Outcome:
    try:
        return settle(delivery, ctx, record, written)
    except (DeliveryFailed, DeliveryDeferred) as outcome:
        return outcome
