"""Store stage: kept rows to the lake, quarantined rows with their reasons, and the tallies.

Both are SQL over the batch's ``judged`` rows, streamed out delivery by delivery as Arrow batches
into each delivery's lake files (:class:`txpipe.store.lake.DeliveryFiles`). A quarantined row's
``offending_values`` (the delivered values of the columns its rules judged, participant_ref
withheld, the closest nations for an unknown one) and ``record`` (every delivered column but
participant_ref, plus participant_pid) are JSON objects built in SQL, keys sorted, from the suite
and the schema.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest.suite import RowSuite
from txpipe.ingest.values import REPORTABLE_COLUMNS
from txpipe.ingest.workspace import THREADS, Workspace, literal, quoted, sql
from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA
from txpipe.store.lake import DeliveryFiles
from txpipe.store.ledger import DeliveryRecord

BATCH_ROWS = 100_000
# Offending-values key of a nation_unknown row: the closest reference nations, "Georgia (GEO)".
SUGGESTIONS = "nation_did_you_mean"
NATION_UNKNOWN = "nation_unknown"
EMPTY_PARTICIPATION, EMPTY_QUARANTINE = PARTICIPATION_SCHEMA.empty_table(), QUARANTINE_SCHEMA.empty_table()


@dataclass
class Tallies:
    stored: int = 0
    quarantined: int = 0
    warnings: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    suggested: dict[str, int] = field(default_factory=dict)

    def fill(self, record: DeliveryRecord) -> None:
        """The delivery record's row counts and tallies (suggestions most frequent first)."""
        record.rows_stored, record.rows_quarantined = self.stored, self.quarantined
        record.warnings = dict(sorted(self.warnings.items()))
        record.quarantine_reasons = dict(sorted(self.reasons.items()))
        record.nation_suggestions = dict(sorted(self.suggested.items(), key=lambda item: (-item[1], item[0])))


def _delivered(column: str, raw: list[str]) -> str:
    """The delivered value of a column in ``judged`` (j)."""
    return f"j.{quoted(('raw:' if column in raw else '') + column)}"


def _offending_keys(suite: RowSuite) -> dict[str, set[str]]:
    """Each key an offending-values object can hold, and the critical rules whose failure puts it there."""
    using: dict[str, set[str]] = {}
    for rule in suite.rules:
        if rule.severity == "critical":
            for column in rule.columns:
                using.setdefault(column, set()).add(rule.name)
    if any(r.name == NATION_UNKNOWN and r.severity == "critical" for r in suite.rules):
        using[SUGGESTIONS] = {NATION_UNKNOWN}
    return dict(sorted(using.items()))


def _offending_value(key: str, raw: list[str]) -> str:
    if key == SUGGESTIONS:
        return "coalesce(s.suggestions, '[]')::JSON"
    if key == "participant_ref":  # withheld: its pseudonym is in the record
        return "NULL"
    return f"kept_value({_delivered(key, raw)})"


def offending_sql(suite: RowSuite, raw: list[str], combinations: list[list[str]]) -> str:
    """Per quarantined row, the JSON object of the delivered values its critical rules judged, keys sorted.

    Rows are quarantined for a few combinations of rules: each known combination (``combinations``)
    gets one json_object of exactly its keys; any other is built key by key (slower, same object)."""
    using = _offending_keys(suite)
    branches = []
    for combination in combinations:
        keys = [k for k, rules in using.items() if rules & set(combination)]
        pairs = ", ".join(f"{literal(k)}, {_offending_value(k, raw)}" for k in keys)
        branches.append(f"WHEN {literal(chr(31).join(combination))} THEN json_object({pairs})::VARCHAR")
    items = []
    for key, rules in using.items():
        listed = "[" + ", ".join(literal(r) for r in sorted(rules)) + "]"
        pair = f"{literal(json.dumps(key) + ':')} || coalesce({_offending_value(key, raw)}::VARCHAR, 'null')"
        items.append(f"CASE WHEN list_has_any(j.reasons, {listed}) THEN {pair} END")
    listed = f"list_filter([{', '.join(items)}]::VARCHAR[], lambda x: x IS NOT NULL)" if items else "[]::VARCHAR[]"
    generic = f"'{{' || array_to_string({listed}, ',') || '}}'"
    if not branches:
        return generic
    return f"CASE array_to_string(j.reasons, chr(31)) {' '.join(branches)} ELSE {generic} END"


def record_sql(raw: list[str]) -> str:
    """Per quarantined row, the JSON object of its delivered row (participant_pid for participant_ref), keys
    sorted; a long value kept as its length and a prefix (create_kept_value.sql)."""
    keys = sorted([*REPORTABLE_COLUMNS, "participant_pid"])
    return "json_object(" + ", ".join(f"{literal(k)}, kept_value({_delivered(k, raw)})" for k in keys) + ")::VARCHAR"


def register_suggestions(
    con: duckdb.DuckDBPyConnection, nation_codes: list[str], suggest: Callable[[str], list[str]]
) -> None:
    """The closest reference nations of every distinct delivered nation that is not a reference code."""
    con.register("nation_codes", pa.table({"value": pa.array(nation_codes, pa.string())}))
    nations = con.sql(sql("unknown_nations")).to_arrow_table()["nation"].to_pylist()
    lists = [suggest(n) if n is not None else [] for n in nations]
    con.register(
        "suggestions",
        pa.table(
            {
                "nation": pa.array(nations, pa.string()),
                "suggestions": pa.array([json.dumps(s, ensure_ascii=False) for s in lists], pa.string()),
                "first": pa.array([s[0] if s else None for s in lists], pa.string()),
            }
        ),
    )


def _with_constants(table: pa.Table, values: dict[str, object], schema: pa.Schema) -> pa.Table:
    n = table.num_rows
    columns = {name: table[name] for name in table.column_names}
    columns.update({name: pa.repeat(pa.scalar(value, schema.field(name).type), n) for name, value in values.items()})
    return pa.table({name: columns[name] for name in schema.names}).cast(schema)


def _count(counts: dict[str, int], values: pa.Array) -> None:
    for item in pc.value_counts(values.drop_null()).to_pylist():
        counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]


COMBINATIONS = 64  # rule combinations given their own json_object (the most frequent are not chosen: any 64)


def outcome_query(
    con: duckdb.DuckDBPyConnection,
    suite: RowSuite,
    raw: list[str],
    nation_codes: list[str],
    suggest: Callable[[str], list[str]],
) -> str:
    """outcome.sql over the ``judged`` rows of ``con`` (``raw``: the columns whose delivered value is
    ``raw:<column>``), with the suggestions for the unknown nations of its ``delivered`` rows registered."""
    register_suggestions(con, nation_codes, suggest)
    combinations = [
        row[0].split(chr(31)) for row in con.execute(sql("reason_combinations"), {"limit": COMBINATIONS}).fetchall()
    ]
    return sql("outcome", offending=offending_sql(suite, raw, combinations), record=record_sql(raw))


def delivery_constants(
    *, source: str, batch_id: str, source_file: str, run_id: str, received: dt.datetime
) -> dict[str, object]:
    """The lake columns every row of one delivery holds alike."""
    return {
        "source": source,
        "batch_id": batch_id,
        "source_file": source_file,
        "ingested_at": received,
        "run_id": run_id,
    }


class Outcomes:
    """The outcome query (``outcome.sql``) over a batch's ``judged`` rows, read out delivery by delivery.

    A batch of one delivery (which may be huge) streams its outcome straight from the query, in
    delivered order (``outcome_of_delivery.sql``, or ``outcome_range.sql`` chunk by chunk when some of
    its records could not be read); a batch of many (small: 16 MiB of files at most) deliveries makes
    its outcome once, sorted by delivery and position (``outcome_sorted.sql``), and each delivery
    takes its slice of it."""

    def __init__(
        self,
        ws: Workspace,
        suite: RowSuite,
        nation_codes: list[str],
        suggest: Callable[[str], list[str]],
        deliveries: int,
    ) -> None:
        self.ws = ws
        self.query = outcome_query(ws.con, suite, ws.raw, nation_codes, suggest)
        self.issues = ws.count("issues")
        self.sorted: pa.Table | None = None
        if deliveries > 1:
            self.sorted = ws.con.sql(sql("outcome_sorted", outcome=self.query)).to_arrow_table()
            numbers = self.sorted["delivery"].to_numpy()
            self.slices = {int(d): (int(first), int(last)) for d, first, last in _runs(numbers)}

    def write(self, delivery: int, files: DeliveryFiles, constants: dict[str, object]) -> Tallies:
        """Write one delivery's kept and quarantined rows into ``files``, in delivered order; return the tallies."""
        counts = Tallies()
        ws = self.ws
        if self.sorted is not None:
            first, last = self.slices.get(delivery, (0, 0))
            for start in range(first, last, BATCH_ROWS):
                add_outcome(files, counts, self.sorted.slice(start, min(BATCH_ROWS, last - start)), constants)
            return counts
        if not self.issues.get(delivery):
            # One DuckDB thread streams rows in delivered order (parallel scans hand row groups back out
            # of order); the lake files are encoded on the other core meanwhile (DeliveryFiles' thread).
            ws.con.execute("SET threads = 1")
            batches = _batches(ws, sql("outcome_of_delivery", outcome=self.query), {"delivery": delivery})
        else:
            # Records the reader could not place go among the quarantined rows by position: one sorted
            # query per chunk of positions, as the reader read them.
            batches = (
                table
                for first, last in itertools.pairwise([0, *ws.bounds[delivery]])
                if last > first
                for table in _batches(
                    ws,
                    sql("outcome_range", outcome=self.query),
                    {"delivery": delivery, "first": first, "last": last},
                )
            )
        try:
            for table in batches:
                add_outcome(files, counts, table, constants)
        finally:
            ws.con.execute(f"SET threads = {THREADS}")
        return counts


def _runs(numbers: npt.NDArray[np.int32]) -> Iterator[tuple[int, int, int]]:
    """(value, first, last) of each run of equal values in a sorted array."""
    if len(numbers) == 0:
        return
    starts = np.flatnonzero(np.diff(numbers)) + 1
    firsts = np.concatenate([[0], starts])
    lasts = np.concatenate([starts, [len(numbers)]])
    for first, last in zip(firsts, lasts, strict=True):
        yield int(numbers[first]), int(first), int(last)


def _batches(ws: Workspace, query: str, parameters: dict[str, object]) -> Iterator[pa.Table]:
    for batch in ws.con.sql(query, params=parameters).to_arrow_reader(BATCH_ROWS):
        yield pa.Table.from_batches([batch])


def add_outcome(files: DeliveryFiles, counts: Tallies, table: pa.Table, constants: dict[str, object]) -> None:
    """Rows of the outcome query into the lake files (kept: no reasons), counted into the tallies;
    ``constants``: the values every row of the delivery has (source, batch_id, ...)."""
    kept_mask = pc.equal(pc.list_value_length(table["reasons"]), 0)
    kept, quarantined = table.filter(kept_mask), table.filter(pc.invert(kept_mask))
    files.add(
        _with_constants(kept, constants, PARTICIPATION_SCHEMA) if kept.num_rows else EMPTY_PARTICIPATION,
        _with_constants(quarantined, constants, QUARANTINE_SCHEMA) if quarantined.num_rows else EMPTY_QUARANTINE,
    )
    counts.stored += kept.num_rows
    counts.quarantined += quarantined.num_rows
    if kept.num_rows:
        _count(counts.warnings, pc.list_flatten(kept["warnings"]))
    if quarantined.num_rows:
        _count(counts.reasons, pc.list_flatten(quarantined["reasons"]))
        _count(counts.suggested, quarantined["suggested"])
