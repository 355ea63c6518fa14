"""Validate stage: every rule of the GX suite judged once per batch; verdicts as columns (``judged``).

The rules are split into groups that share no column (:func:`rule_groups`: rules that read a common
column must be judged on the same combinations). A group whose distinct value combinations
are few (at most ``DISTINCT_SHARE`` of the rows, or ``DISTINCT_FLOOR``) is judged by GX on those
combinations only: the combinations of every such group, side by side in one frame, reach GX in
one call for the whole batch, and the combinations GX failed are joined back to the rows.

A rule that reads near-unique columns (record ids, pseudonyms) is judged by a set-based SQL check
written from its expectation (:func:`sql_check`), for the map expectations whose meaning is plain
(not null, lengths, in a set or not); any other expectation on near-unique columns is still judged
by GX on its distinct combinations, a slice at a time. Every way gives the verdict GX gives
(tests/ingest/test_ingest_sets.py compares them).

A parameter whose values are a delivery's own (``PER_DELIVERY``: the ids the census found
conflicting in that delivery) is a workspace table of (delivery, value); a rule that takes one is
always judged by its SQL check, keyed by delivery (GX knows no delivery), and a suite that gives
such a rule an expectation with no SQL check is refused (:class:`SuiteError`).

``judged`` holds each canonical row with ``reasons`` (its critical rules, suite order; empty when
it is kept) and ``warnings`` (its warning rules; null when none), a rule being moot on a row where
a rule it depends on failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest.gx_runner import run_gx
from txpipe.ingest.readers import STRING
from txpipe.ingest.sql_checks import PER_DELIVERY, sql_check
from txpipe.ingest.suite import Parameters, Positions, RowSuite, Rule, SuiteError
from txpipe.ingest.values import CANONICAL_COLUMNS
from txpipe.ingest.workspace import Workspace, literal, quoted, sql

DISTINCT_SHARE = 0.25  # a group goes to GX on its combinations when they are at most this share of the rows ...
DISTINCT_FLOOR = 200_000  # ... or up to this many
GX_SLICE = 200_000  # combinations per GX call for a rule judged by GX on near-unique columns


def rule_groups(rules: tuple[Rule, ...] | list[Rule], columns: list[str]) -> list[tuple[list[Rule], list[str]]]:
    """The rules in groups that share no column (rules reading a common column are in one group),
    each with the columns it reads, in the order of ``columns``."""
    groups: list[tuple[list[Rule], set[str]]] = []
    for rule in rules:
        reads = {c for c in rule.reads if c in columns} or set(columns)
        joined = [g for g in groups if g[1] & reads]
        merged = ([rule] + [r for g in joined for r in g[0]], reads.union(*(g[1] for g in joined)))
        groups = [g for g in groups if not any(g is j for j in joined)] + [merged]
    return [(members, [c for c in columns if c in read]) for members, read in groups]


def flag(rule: str) -> str:
    return quoted(f"fails:{rule}")


@dataclass
class Judging:
    """What the final query needs: per rule, the SQL that says the row failed it, and the joins."""

    checks: dict[str, str]
    joins: list[str]


def _expectations(suite: RowSuite) -> dict[str, dict[str, Any]]:
    return {e["meta"]["rule"]: e for e in suite.document["expectations"]}


def _distinct_counts(ws: Workspace, column_sets: list[list[str]]) -> list[int]:
    """Roughly how many distinct combinations each column set holds (one scan; only the speed of
    the way a group is judged depends on it, never its verdict)."""
    if not column_sets:
        return []
    counts = ", ".join(
        f"approx_count_distinct(hash({', '.join(quoted(c) for c in columns)}))" for columns in column_sets
    )
    return [int(n) for n in ws.con.execute(f"SELECT {counts} FROM delivered").fetchall()[0]]


def plan(ws: Workspace, suite: RowSuite, rows: int) -> tuple[list[tuple[list[Rule], list[str]]], list[Rule]]:
    """(groups judged by GX on their distinct combinations, rules judged in SQL or GX slices: those on
    near-unique columns, and every rule that takes a per-delivery parameter)."""
    limit = max(int(DISTINCT_SHARE * rows), DISTINCT_FLOOR)
    keyed = [r for r in suite.rules if set(r.parameters) & set(PER_DELIVERY)]
    groups = rule_groups([r for r in suite.rules if r not in keyed], list(CANONICAL_COLUMNS))
    few: list[tuple[list[Rule], list[str]]] = []
    near_unique: list[tuple[list[Rule], list[str]]] = []
    for (rules, columns), count in zip(groups, _distinct_counts(ws, [columns for _, columns in groups]), strict=True):
        (few if count <= limit else near_unique).append((rules, columns))
    # In a near-unique group, the rules that read few combinations on their own still go to GX.
    split = [r for rules, _ in near_unique for r in rules]
    own = _distinct_counts(
        ws, [[c for c in CANONICAL_COLUMNS if c in r.reads] or list(CANONICAL_COLUMNS) for r in split]
    )
    cheap = [r for r, count in zip(split, own, strict=True) if count <= limit]
    for rules, columns in rule_groups(cheap, list(CANONICAL_COLUMNS)):
        few.append((rules, columns))
    return few, [*keyed, *(r for r, count in zip(split, own, strict=True) if count > limit)]


def judge(ws: Workspace, suite: RowSuite, parameters: Parameters, rows: int) -> None:
    """Create ``judged`` from ``canonical``."""
    few, near_unique = plan(ws, suite, rows)
    judging = Judging(checks={}, joins=[])
    _judge_few(ws, suite, few, parameters, judging)
    _judge_near_unique(ws, suite, near_unique, parameters, judging)
    missing = set(suite.rule_names) - set(judging.checks)
    if missing:
        raise SuiteError(f"no verdict for rules {sorted(missing)}")
    _create_judged(ws, suite, judging)


def _judge_few(
    ws: Workspace,
    suite: RowSuite,
    groups: list[tuple[list[Rule], list[str]]],
    parameters: Parameters,
    judging: Judging,
) -> None:
    """One GX call for every group's distinct combinations, side by side (shorter groups padded
    with their first combination, which adds no verdict)."""
    if not groups:
        return
    # Exact duplicates hold the values of a row kept: the combinations of all delivered rows are the same.
    combos = [
        ws.con.sql(f"SELECT DISTINCT {', '.join(quoted(c) for c in columns)} FROM delivered").to_arrow_table()
        for _, columns in groups
    ]
    if max(t.num_rows for t in combos) == 0:  # no rows: no rule fails
        judging.checks.update({r.name: "false" for rules, _ in groups for r in rules})
        return
    length = max(t.num_rows for t in combos)
    frame = pa.table(
        {
            name: pc.take(t[name], pa.array(np.minimum(np.arange(length), t.num_rows - 1)))
            for t in combos
            if t.num_rows
            for name in t.column_names
        }
    ).to_pandas(types_mapper={pa.string(): STRING}.get)
    names = frozenset(r.name for rules, _ in groups for r in rules)
    failures = run_gx(frame, suite, names, parameters)
    for number, ((rules, columns), table) in enumerate(zip(groups, combos, strict=True)):
        _join_failed(ws, f"verdict_{number}", rules, columns, table, failures, judging)


def _join_failed(
    ws: Workspace,
    name: str,
    rules: list[Rule],
    columns: list[str],
    table: pa.Table,
    failures: dict[str, Positions],
    judging: Judging,
) -> None:
    """Register the combinations that failed any of the rules, one flag per rule, and join them."""
    flags: dict[str, npt.NDArray[np.bool_]] = {}
    for rule in rules:
        failed = np.zeros(table.num_rows, np.bool_)
        positions = failures[rule.name]
        failed[positions[positions < table.num_rows]] = True
        flags[rule.name] = failed
    any_failed = np.logical_or.reduce(list(flags.values())) if flags else np.zeros(table.num_rows, np.bool_)
    keep = pa.array(any_failed)
    verdict = table.filter(keep)
    for rule_name, failed in flags.items():
        verdict = verdict.append_column(f"fails:{rule_name}", pa.array(failed).filter(keep))
    ws.con.register(name, verdict)
    on = " AND ".join(f"c.{quoted(c)} IS NOT DISTINCT FROM {name}.{quoted(c)}" for c in columns)
    judging.joins.append(f"LEFT JOIN {name} ON {on}")
    for rule in rules:
        judging.checks[rule.name] = f"coalesce({name}.{flag(rule.name)}, false)"


def _judge_near_unique(
    ws: Workspace, suite: RowSuite, rules: list[Rule], parameters: Parameters, judging: Judging
) -> None:
    if not rules:
        return
    parameter_tables: dict[str, str] = {}
    for number, (key, values) in enumerate(parameters.items()):
        if all(isinstance(v, str) for v in values):
            parameter_tables[key] = f"parameter_{number}"
            ws.con.register(f"parameter_{number}", pa.table({"value": pa.array(values, pa.string())}))
    parameter_tables.update(PER_DELIVERY)
    value_tables: list[pa.Table] = []
    expectations = _expectations(suite)
    for rule in rules:
        check = sql_check(expectations[rule.name], parameter_tables, value_tables)
        if check is None and set(rule.parameters) & set(PER_DELIVERY):
            raise SuiteError(
                f"rule {rule.name} takes a per-delivery parameter ({', '.join(sorted(PER_DELIVERY))}) but its "
                "expectation is not one txpipe judges in SQL (not null, lengths, in a set or not)"
            )
        if check is None:
            _judge_in_slices(ws, suite, rule, parameters, judging)
        else:
            judging.checks[rule.name] = check
    for number, table in enumerate(value_tables):
        ws.con.register(f"value_set_{number}", table)


def _judge_in_slices(ws: Workspace, suite: RowSuite, rule: Rule, parameters: Parameters, judging: Judging) -> None:
    """A rule with no SQL check, on near-unique columns: GX on its distinct combinations, a slice at a time."""
    columns = [c for c in CANONICAL_COLUMNS if c in rule.reads] or list(CANONICAL_COLUMNS)
    name = f"verdict_{rule.name}"
    reader = ws.con.sql(f"SELECT DISTINCT {', '.join(quoted(c) for c in columns)} FROM delivered").to_arrow_reader(
        GX_SLICE
    )
    failed_parts: list[pa.Table] = []
    for batch in reader:
        table = pa.Table.from_batches([batch])
        failures = run_gx(
            table.to_pandas(types_mapper={pa.string(): STRING}.get), suite, frozenset([rule.name]), parameters
        )
        failed = np.zeros(table.num_rows, np.bool_)
        failed[failures[rule.name]] = True
        failed_parts.append(table.filter(pa.array(failed)))
    verdict = pa.concat_tables(failed_parts) if failed_parts else reader.schema.empty_table()
    ws.con.register(name, verdict.append_column(f"fails:{rule.name}", pa.repeat(True, verdict.num_rows)))
    on = " AND ".join(f"c.{quoted(c)} IS NOT DISTINCT FROM {quoted(name)}.{quoted(c)}" for c in columns)
    judging.joins.append(f"LEFT JOIN {quoted(name)} ON {on}")
    judging.checks[rule.name] = f"coalesce({quoted(name)}.{flag(rule.name)}, false)"


def _create_judged(ws: Workspace, suite: RowSuite, judging: Judging) -> None:
    """``judged``: canonical rows with their reasons and warnings (a rule moot where one it depends on failed)."""
    stands: dict[str, str] = {}
    for rule in suite.rules:
        dependencies = [stands.get(d, flag(d)) for d in rule.depends_on if d in judging.checks]
        stands[rule.name] = (
            f"({flag(rule.name)} AND NOT ({' OR '.join(dependencies)}))" if dependencies else flag(rule.name)
        )

    def names(severity: str) -> str:
        items = [
            f"CASE WHEN {stands[r.name]} THEN {literal(r.name)} END" for r in suite.rules if r.severity == severity
        ]
        return f"list_filter([{', '.join(items)}]::VARCHAR[], lambda x: x IS NOT NULL)" if items else "[]::VARCHAR[]"

    ws.con.execute(
        sql(
            "judged",
            checks=",\n           ".join(f"{check} AS {flag(rule)}" for rule, check in judging.checks.items()),
            joins="\n    ".join(judging.joins),
            reasons=names("critical"),
            warnings=names("warning"),
        )
    )
