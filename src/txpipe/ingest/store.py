"""Store stage: kept rows to the lake, quarantined rows with their reasons, and the tallies.

Both are SQL over ``judged`` streamed out as Arrow batches into the delivery's lake files
(:class:`txpipe.lake.DeliveryFiles`). A quarantined row's ``offending_values`` (the delivered
values of the columns its rules judged, participant_ref withheld, the closest nations for an
unknown one) and ``record`` (every delivered column but participant_ref, plus participant_pid) are
JSON objects built in SQL, keys sorted, from the suite and the schema.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from txpipe.ingest.workspace import Workspace, literal, quoted, sql
from txpipe.lake import DeliveryFiles
from txpipe.normalize import REPORTABLE_COLUMNS
from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA
from txpipe.validate import RowSuite

BATCH_ROWS = 100_000
# Offending-values key of a nation_unknown row: the closest reference nations, "Georgia (GEO)".
SUGGESTIONS = "nation_did_you_mean"
NATION_UNKNOWN = "nation_unknown"


@dataclass
class Tallies:
    stored: int = 0
    quarantined: int = 0
    warnings: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    suggested: dict[str, int] = field(default_factory=dict)


def _json_pair(key: str, value_sql: str) -> str:
    return f"{literal(json.dumps(key) + ': ')} || coalesce(to_json({value_sql}), 'null')"


def offending_sql(suite: RowSuite) -> str:
    """Per quarantined row, the JSON object of the delivered values its critical rules judged."""
    using: dict[str, list[str]] = {}
    for rule in suite.rules:
        if rule.severity == "critical":
            for column in rule.columns:
                using.setdefault(column, []).append(rule.name)
    if any(r.name == NATION_UNKNOWN and r.severity == "critical" for r in suite.rules):
        using[SUGGESTIONS] = [NATION_UNKNOWN]
    items = []
    for key in sorted(using):
        rules = "[" + ", ".join(literal(r) for r in using[key]) + "]"
        if key == SUGGESTIONS:
            pair = f"{literal(json.dumps(key) + ': ')} || s.suggestions"
        elif key == "participant_ref":  # withheld: its pseudonym is in the record
            pair = literal(json.dumps(key) + ": null")
        else:
            pair = _json_pair(key, f"d.{quoted(key)}")
        items.append(f"CASE WHEN list_has_any(j.reasons, {rules}) THEN {pair} END")
    listed = f"list_filter([{', '.join(items)}]::VARCHAR[], lambda x: x IS NOT NULL)" if items else "[]::VARCHAR[]"
    return f"'{{' || array_to_string({listed}, ', ') || '}}'"


def record_sql() -> str:
    """Per quarantined row, the JSON object of its delivered row (participant_pid for participant_ref)."""
    keys = sorted([*REPORTABLE_COLUMNS, "participant_pid"])
    return "'{' || " + " || ', ' || ".join(_json_pair(k, f"d.{quoted(k)}") for k in keys) + " || '}'"


def register_suggestions(ws: Workspace, suggest: Callable[[str], list[str]]) -> None:
    """The closest reference nations of every distinct delivered nation the suite found unknown."""
    nations = ws.con.sql(sql("unknown_nations")).to_arrow_table()["nation"].to_pylist()
    lists = [suggest(n) for n in nations]
    ws.con.register("suggestions", pa.table({
        "nation": pa.array(nations, pa.string()),
        "suggestions": pa.array([json.dumps(s, ensure_ascii=False) for s in lists], pa.string()),
        "first": pa.array([s[0] if s else None for s in lists], pa.string()),
    }))


def _constants(n: int, values: dict[str, object], schema: pa.Schema) -> dict[str, pa.Array]:
    return {name: pa.repeat(pa.scalar(value, schema.field(name).type), n) for name, value in values.items()}


def write(ws: Workspace, suite: RowSuite, files: DeliveryFiles, suggest: Callable[[str], list[str]], *,
          source: str, batch_id: str, source_file: str, run_id: str, received: dt.datetime) -> Tallies:
    """Write the delivery's kept and quarantined rows into ``files``; return what was written."""
    constants = {"source": source, "batch_id": batch_id, "source_file": source_file, "ingested_at": received,
                 "run_id": run_id}
    empty_participation, empty_quarantine = PARTICIPATION_SCHEMA.empty_table(), QUARANTINE_SCHEMA.empty_table()
    for batch in ws.con.sql(sql("kept")).to_arrow_reader(BATCH_ROWS):
        table = pa.Table.from_batches([batch])
        columns = {**{n: table[n] for n in table.column_names}, **_constants(table.num_rows, constants, PARTICIPATION_SCHEMA)}
        files.add(pa.table({n: columns[n] for n in PARTICIPATION_SCHEMA.names}).cast(PARTICIPATION_SCHEMA),
                  empty_quarantine)
    register_suggestions(ws, suggest)
    query = sql("quarantined", offending=offending_sql(suite), record=record_sql())
    for batch in ws.con.sql(query).to_arrow_reader(BATCH_ROWS):
        table = pa.Table.from_batches([batch])
        columns = {**{n: table[n] for n in table.column_names}, **_constants(table.num_rows, constants, QUARANTINE_SCHEMA)}
        files.add(empty_participation,
                  pa.table({n: columns[n] for n in QUARANTINE_SCHEMA.names}).cast(QUARANTINE_SCHEMA))
    return tallies(ws)


def tallies(ws: Workspace) -> Tallies:
    counts = Tallies()
    counts.stored, counts.quarantined = ws.con.execute(sql("counts")).fetchall()[0]
    for name, target in (("warning_counts", counts.warnings), ("reason_counts", counts.reasons),
                         ("suggestion_counts", counts.suggested)):
        for key, number in ws.con.execute(sql(name)).fetchall():
            target[key] = int(number)
    return counts
