"""Read, normalise and pseudonymise stages: the deliveries of a batch into its workspace (:class:`Loader`).

Each delivery is read on its own, in chunks (a background thread parses the next one). Chunks are
held until ``HOLD_ROWS`` rows are, then normalised together per source and spooled with their pids
(a large delivery's chunks go on at once): a thousand small files cost a few normalisations, not a
thousand. A delivery that cannot be read is rejected, and one that crashes while read or normalised
fails, alone: its rows are left out of the workspace (a failed joint normalisation is redone member by
member to find the culprit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath

import pyarrow as pa

from txpipe.ingest import DeliveryFailed, IngestContext, Stage
from txpipe.ingest.landing import Delivery
from txpipe.ingest.normalise import Normaliser
from txpipe.ingest.readers import UnreadableFile, read_ahead, read_delivery
from txpipe.ingest.readers.xapi import StatementSetup, read_roster
from txpipe.ingest.sources import SourceConfig, SourceConfigError
from txpipe.ingest.values import delivered_values, plan_columns
from txpipe.ingest.workspace import DELIVERY, SourceColumns, Workspace, frame_table
from txpipe.ops.memory import release_freed_memory
from txpipe.store.ledger import DeliveryRecord

HOLD_ROWS = 50_000  # chunks are held until this many rows are, then normalised and spooled together
RELEASE_ROWS = 10_000  # after spooling at least this many rows, freed memory is handed back to the OS


@dataclass
class Member:
    """A delivery of the batch while it is ingested."""

    number: int  # its number in the batch: the workspace's ``delivery`` column
    delivery: Delivery
    record: DeliveryRecord
    config: SourceConfig
    stage: Stage = field(default_factory=Stage)
    # the reader's own (Delivered.warnings) and the column plan's (column_not_delivered)
    reader_warnings: dict[str, int] = field(default_factory=dict)


@dataclass
class _Held:
    """A chunk read and not yet normalised."""

    member: Member
    table: pa.Table


class Loader:
    """Read, normalise and pseudonymise stages: each member read on its own into the workspace; its
    chunks held until ``HOLD_ROWS`` rows are, then normalised and spooled together, per source (a
    large delivery's chunks go on at once). What is left out of the batch, by member number:
    ``left_out`` (None: rejected, its record says why; else the failure)."""

    def __init__(
        self,
        ctx: IngestContext,
        workspace: Workspace,
        normalisers: dict[str, Normaliser],
        columns: dict[str, SourceColumns],
    ) -> None:
        self.ctx, self.workspace, self.normalisers, self.columns = ctx, workspace, normalisers, columns
        self.left_out: dict[int, DeliveryFailed | None] = {}
        self.held: list[_Held] = []

    def read(self, member: Member) -> None:
        delivery, record, config = member.delivery, member.record, member.config
        try:
            setup = statement_setup(delivery, config, self.ctx, delivery.voids)
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
            member.reader_warnings = {**delivered.warnings, **plan.warnings}
            if delivered.statements is not None:
                record.statements = asdict(delivered.statements)
                record.voids = list(setup.void_targets)  # what it voids, applied to the source's other exports
            if delivered.physical is not None:
                record.physical = asdict(delivered.physical)
        except (UnreadableFile, SourceConfigError) as error:
            record.status, record.reason = "rejected", str(error)
            self._leave_out(member, None)
        except Exception as error:
            self._leave_out(member, DeliveryFailed(delivery, member.stage.name, error))

    def _leave_out(self, member: Member, failure: DeliveryFailed | None) -> None:
        self.held = [h for h in self.held if h.member is not member]
        self.workspace.drop(member.number)
        self.left_out[member.number] = failure

    def flush(self) -> None:
        """Normalise and spool the held chunks, those of one source together; if that fails, member by
        member, so that only the culprit fails."""
        held, self.held = self.held, []
        by_source: dict[str, list[_Held]] = {}
        for item in held:
            if item.member.number not in self.left_out:
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


def statement_setup(
    delivery: Delivery, config: SourceConfig, ctx: IngestContext, voided_elsewhere: frozenset[str] = frozenset()
) -> StatementSetup:
    """How this delivery's statements become records, if it holds xAPI statements (README "xAPI
    sources"): source_record_id is a keyed hash; the roster is read from the source folder if needed;
    ``voided_elsewhere``: the void fingerprints of the source's other exports."""
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
        voided_elsewhere=voided_elsewhere,
    )
