"""Read-only ad-hoc SQL on the published warehouse.

Two locks: only reading statements are accepted (checked before anything runs), and the
connection itself is read-only with external access disabled and its configuration locked, so
no file can be read or written, no database attached and no extension installed or loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

READING_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL"}

LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}


class QueryRefused(Exception):
    """The query would change something or reach outside the warehouse."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]


def connect_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `txpipe run` or `txpipe build` first")
    con = duckdb.connect(str(warehouse), read_only=True, config=LOCKED_CONFIG)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET lock_configuration = true")  # nothing the query says can undo the above
    return con


def run_query(warehouse: Path, sql: str) -> QueryResult:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryRefused(f"the query does not parse: {error}") from None
    if not statements:
        raise QueryRefused("the query is empty")
    for statement in statements:
        kind = statement.type.name
        if kind not in READING_STATEMENTS:
            raise QueryRefused(
                f"txpipe query is read-only: {kind} statements are not allowed "
                f"(only {', '.join(sorted(READING_STATEMENTS))})"
            )
    with connect_read_only(warehouse) as con:
        try:
            for statement in statements:
                cursor = con.execute(statement.query)
            columns = [d[0] for d in cursor.description or []]
            return QueryResult(columns, cursor.fetchall())
        except duckdb.PermissionException as error:
            raise QueryRefused(
                "txpipe query cannot read or write files, attach databases or load extensions: "
                + str(error).splitlines()[0]
            ) from None
        except (duckdb.InvalidInputException, duckdb.CatalogException, duckdb.ParserException,
                duckdb.BinderException, duckdb.ConversionException) as error:
            raise QueryRefused(str(error).splitlines()[0]) from None


def headline(warehouse: Path, name: str = "headline_partner_participants") -> QueryResult:
    """A run-summary table for the latest year: partner participants by framework and programme
    (the default), or ``headline_course_completion`` (completion over education and training only)."""
    from txpipe.warehouse import read_sql

    with connect_read_only(warehouse) as con:
        cursor = con.execute(read_sql(name))
        return QueryResult([d[0] for d in cursor.description], cursor.fetchall())
