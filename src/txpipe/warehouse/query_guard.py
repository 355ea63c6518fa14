"""The allow-list of ``txpipe query``: which parsed statements may run.

DuckDB's own parser splits the query and names each statement's type; only SELECT (with VALUES,
FROM-first, DESCRIBE, SHOW, SUMMARIZE), PRAGMA and CALL pass. EXPLAIN and EXPLAIN ANALYZE are judged
by the statement they wrap (EXPLAIN ANALYZE runs it), which must itself be one of those.
``txpipe.warehouse.query`` re-exports every public name here.
"""

from __future__ import annotations

import duckdb

from txpipe.warehouse.query_errors import QueryRefused, first_line

READING_STATEMENTS = {"SELECT", "PRAGMA", "CALL"}  # and EXPLAIN of one of them
ALLOWED = READING_STATEMENTS | {"EXPLAIN"}

# A significant token: its start and end offsets in the query text, and its type's name.
_Token = tuple[int, int, str]


def _significant_tokens(sql: str) -> list[_Token]:
    """(start, end, type) of every token but comments; a token ends where the next one starts."""
    tokens = duckdb.tokenize(sql)
    out = []
    for i, (offset, kind) in enumerate(tokens):
        if kind.name != "comment":
            out.append((offset, tokens[i + 1][0] if i + 1 < len(tokens) else len(sql), kind.name))
    return out


def _token_text(sql: str, tokens: list[_Token], i: int) -> str:
    return sql[tokens[i][0] : tokens[i][1]].strip()


def _explained_candidates(sql: str) -> list[str]:
    """Every text the EXPLAIN statement ``sql`` may wrap, by its grammar:
    ``EXPLAIN [ANALYZE | ANALYSE] [( options )] statement``. Where the grammar is ambiguous
    (``EXPLAIN (SELECT 1)``: options or a parenthesised query?) every reading is returned."""
    tokens = _significant_tokens(sql)
    if not tokens or _token_text(sql, tokens, 0).upper() != "EXPLAIN":
        return []
    starts = {1}
    if len(tokens) > 1 and _token_text(sql, tokens, 1).upper() in ("ANALYZE", "ANALYSE", "VERBOSE"):
        starts.add(2)
    for start in sorted(starts):
        if start < len(tokens) and _token_text(sql, tokens, start) == "(":
            depth = 0
            for i in range(start, len(tokens)):
                text = _token_text(sql, tokens, i)
                if tokens[i][2] == "operator":  # not a string or quoted name holding a parenthesis
                    depth += text.count("(") - text.count(")")
                if depth <= 0:
                    starts.add(i + 1)
                    break
    return [sql[tokens[s][0] :] for s in sorted(starts) if s < len(tokens)]


def _check(statement: duckdb.Statement) -> None:
    kind = statement.type.name
    if kind not in ALLOWED:
        raise QueryRefused(
            f"txpipe query is read-only: {kind} statements are not allowed "
            f"(only {', '.join(sorted(ALLOWED))}; EXPLAIN only of {', '.join(sorted(READING_STATEMENTS))})"
        )
    if kind != "EXPLAIN":
        return
    # The wrapped statement is one of the candidates; each candidate that parses as a statement
    # must be a reading one, and at least one must parse (otherwise we cannot tell what runs).
    wrapped = []
    for candidate in _explained_candidates(statement.query):
        try:
            parsed = duckdb.extract_statements(candidate)
        except duckdb.Error:
            continue
        if len(parsed) != 1:
            continue
        wrapped.append(parsed[0].type.name)
    if not wrapped:
        raise QueryRefused(
            "txpipe query cannot tell which statement this EXPLAIN wraps: EXPLAIN [ANALYZE] "
            "may only wrap a SELECT, PRAGMA or CALL"
        )
    refused = sorted(set(wrapped) - READING_STATEMENTS)
    if refused:
        raise QueryRefused(
            f"txpipe query is read-only: EXPLAIN of {refused[0]} statements is not allowed "
            f"(EXPLAIN [ANALYZE] may only wrap {', '.join(sorted(READING_STATEMENTS))})"
        )


def check_query(sql: str) -> list[duckdb.Statement]:
    """The parsed statements of ``sql``, or ``QueryRefused`` if any is not a reading one."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryRefused(f"the query does not parse: {first_line(error)}") from None
    if not statements:
        raise QueryRefused("the query is empty")
    for statement in statements:
        _check(statement)
    return statements
