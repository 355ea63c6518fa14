"""`txpipe query`: ad-hoc SQL, read-only, on the published warehouse, as a table, CSV or JSON."""

from __future__ import annotations

import math
import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from txpipe.cli.app import app, read_settings
from txpipe.cli.output import console, stderr_line, text
from txpipe.warehouse.publish import warehouse_path
from txpipe.warehouse.query import Limits, QueryRefused, QueryStream, open_query

TABLE_MAX_ROWS = 1000


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run read-only on the published warehouse.")],
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    timeout: Annotated[
        float, typer.Option("--timeout", help="Stop the query after SECONDS (0: no limit).", metavar="SECONDS")
    ] = 300.0,
    max_rows: Annotated[
        int | None,
        typer.Option(
            "--max-rows",
            min=0,
            metavar="N",
            help=(f"Show at most N rows (default {TABLE_MAX_ROWS} for table, no limit for csv and json; 0: no limit)."),
        ),
    ] = None,
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit",
            metavar="SIZE",
            help="Memory cap, e.g. 500MB, 2GB (DuckDB's and, with a fixed overhead, the query process's; spill alike).",
        ),
    ] = "1GB",
) -> None:
    """Run ad-hoc SQL, read-only, on the published warehouse (exit 2 when refused or failed)."""
    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    if max_rows is None:
        max_rows = TABLE_MAX_ROWS if format == "table" else 0
    try:
        limits = Limits(timeout=timeout or None, memory_limit=memory_limit)  # refuses a limit that lifts the limit
        warehouse = warehouse_path(read_settings())
        with open_query(warehouse, sql, limits) as stream:
            shown, truncated = _write_result(stream, format, max_rows or None)
    except (QueryRefused, FileNotFoundError) as error:
        stderr_line(("Refused: ", "red"), error)
        raise typer.Exit(2) from None
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to write, nothing to tell
        _quiet_stdout()
        return
    if truncated:
        stderr_line(
            ("Truncated: ", "yellow"),
            f"showing the first {shown} rows; the result has more "
            "(--max-rows N shows more, 0 all; --format csv or json streams every row).",
        )


def _write_result(stream: QueryStream, format: str, max_rows: int | None) -> tuple[int, bool]:
    """Write the result as it comes; returns the rows written and whether rows were left out."""
    if format == "table":
        rows, truncated = stream.rows(max_rows)
        table = Table(show_lines=False)
        for column in stream.columns:
            table.add_column(text(column))
        for row in rows:
            table.add_row(*(text(v) for v in row))
        console.print(table)
        console.print(text(f"{len(rows)} row(s)" + (" shown" if truncated else "")))
        return len(rows), truncated
    written, out = 0, sys.stdout
    if format == "csv":  # machine output: values exactly as they are (a CSV reader gets them back)
        import csv

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(stream.columns)
    else:
        out.write("[")
    truncated = False
    for batch in stream.batches():
        if max_rows is not None and written + len(batch) > max_rows:
            batch, truncated = batch[: max_rows - written], True
        if format == "csv":
            writer.writerows(batch)
        else:
            out.write(
                "".join(
                    ("\n" if written + i == 0 else ",\n") + _json_row(stream.columns, row)
                    for i, row in enumerate(batch)
                )
            )
        written += len(batch)
        if truncated:
            break
        if max_rows is not None and written == max_rows:
            truncated = next(stream.batches(), None) is not None
            break
    if format == "json":
        out.write("\n]\n" if written else "]\n")
    out.flush()
    return written, truncated


def _json_row(columns: list[str], row: tuple[object, ...]) -> str:
    """One result row as an indented JSON object: NaN and infinities become null, dates, decimals
    and other non-JSON values their text; control characters are escaped by JSON itself."""
    import json

    text = json.dumps(dict(zip(columns, (_jsonable(v) for v in row), strict=True)), indent=1, allow_nan=False)
    return "\n".join(" " + line for line in text.splitlines())


def _jsonable(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
