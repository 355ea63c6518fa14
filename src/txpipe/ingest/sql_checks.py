"""SQL checks written from the suite's expectations: for the map expectations whose meaning is plain
(not null, lengths, in a set or not, with an equality row condition), SQL true on exactly the rows GX
fails (tests/ingest/test_ingest_sets.py holds them equal to GX for any values).

A parameter of ``PER_DELIVERY`` (the ids the census found conflicting in a delivery) is a workspace
table of (delivery, value), matched within the row's own delivery.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from txpipe.ingest.values import CANONICAL_COLUMNS
from txpipe.ingest.workspace import literal, quoted

# Parameters whose values differ per delivery: parameter name -> the workspace table (delivery, value).
PER_DELIVERY = {"conflicting_ids": "conflicting_ids"}

_CONDITION = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*==\s*"([^"\\]*)"\s*$')


def sql_check(
    expectation: dict[str, Any], parameter_tables: dict[str, str], value_tables: list[pa.Table]
) -> str | None:
    """SQL true on the rows the expectation fails (GX's meaning: a map expectation ignores missing
    values, except the null checks); None when the expectation is not one we write as SQL. A
    parameter of ``PER_DELIVERY`` is matched within the row's own delivery."""
    kind, kwargs = expectation["type"], dict(expectation.get("kwargs") or {})
    column = kwargs.pop("column", None)
    condition = kwargs.pop("row_condition", None)
    kwargs.pop("condition_parser", None)
    kwargs.pop("mostly", None)  # a share of the rows: changes the suite's success, not which rows fail
    if column not in CANONICAL_COLUMNS:
        return None
    c = "c." + quoted(column)
    if kind == "expect_column_values_to_not_be_null" and not kwargs:
        check = f"{c} IS NULL"
    elif kind == "expect_column_values_to_be_null" and not kwargs:
        check = f"{c} IS NOT NULL"
    elif kind == "expect_column_value_lengths_to_be_between" and set(kwargs) <= {"min_value", "max_value"}:
        bounds = [
            f"length({c}) {op} {int(kwargs[k])}"
            for k, op in (("min_value", "<"), ("max_value", ">"))
            if kwargs.get(k) is not None and not isinstance(kwargs[k], (dict, bool))
        ]
        if len(bounds) != sum(kwargs.get(k) is not None for k in ("min_value", "max_value")) or not bounds:
            return None
        check = f"{c} IS NOT NULL AND ({' OR '.join(bounds)})"
    elif kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set") and set(kwargs) == {
        "value_set"
    }:
        table = _value_table(kwargs["value_set"], parameter_tables, value_tables)
        if table is None:
            return None
        if table in PER_DELIVERY.values():
            inside = f"EXISTS (SELECT 1 FROM {table} AS p WHERE p.delivery = c.delivery AND p.value = {c})"
        else:
            inside = f"{c} IN (SELECT value FROM {table})"
        check = f"{c} IS NOT NULL AND " + (
            inside if kind == "expect_column_values_to_not_be_in_set" else f"NOT ({inside})"
        )
    else:
        return None
    if condition:
        match = _CONDITION.match(str(condition))
        if not match or match.group(1) not in CANONICAL_COLUMNS:
            return None
        check = f"c.{quoted(match.group(1))} = {literal(match.group(2))} AND ({check})"
    return f"coalesce({check}, false)"


def _value_table(value_set: object, parameter_tables: dict[str, str], value_tables: list[pa.Table]) -> str | None:
    if isinstance(value_set, dict) and set(value_set) == {"$PARAMETER"}:
        return parameter_tables.get(str(value_set["$PARAMETER"]))
    if isinstance(value_set, list) and all(isinstance(v, str) for v in value_set):
        value_tables.append(pa.table({"value": pa.array(value_set, pa.string())}))
        return f"value_set_{len(value_tables) - 1}"
    return None
