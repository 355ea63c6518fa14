"""Build every warehouse object in a NEW DuckDB file from the lake, the ledger and the reference data.

The file is written so that DuckDB 1.4+ can open it (storage compatibility v1.4.0). Only the lake
files of deliveries the ledger marks ``stored`` are read.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import duckdb
import pyarrow as pa

from txpipe.ledger import DeliveryRecord, Ledger
from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA
from txpipe.settings import Settings
from txpipe.warehouse import METRIC_TABLES, read_sql

STORAGE_COMPATIBILITY = "v1.4.0"

LEDGER_SCHEMA = pa.schema([
    ("batch_id", pa.string()), ("source", pa.string()), ("source_file", pa.string()), ("sha256", pa.string()),
    ("received_at", pa.string()), ("status", pa.string()), ("rows_read", pa.int64()), ("rows_stored", pa.int64()),
    ("rows_quarantined", pa.int64()), ("rows_duplicate", pa.int64()), ("reason", pa.string()),
    ("ignored_columns", pa.list_(pa.string())), ("superseded_by", pa.string()),
    *((f"statements_{count}", pa.int64()) for count in ("read", "used", "ignored", "quarantined")),
])


def connect_for_build(path: Path, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A new warehouse file; DuckDB's memory is capped (TXPIPE_DUCKDB_MEMORY, default 1GB) and spills beyond."""
    config = {"storage_compatibility_version": STORAGE_COMPATIBILITY,
              "memory_limit": os.environ.get("TXPIPE_DUCKDB_MEMORY", "1GB"),
              "temp_directory": str(path.parent / f"{path.name}.tmp")}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(str(path), config=config)
    con.execute("SET TimeZone = 'UTC'")  # ICU loads after connect, so not in config
    return con


def _ledger_table(records: list[DeliveryRecord]) -> pa.Table:
    rows = [{**{k: v for k, v in asdict(r).items() if k in LEDGER_SCHEMA.names},
             **{f"statements_{k}": v for k, v in (r.statements or {}).items()}} for r in records]
    return pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)


def lake_files(settings: Settings, records: list[DeliveryRecord], zone: str) -> list[str]:
    """Lake files of the deliveries that count (status stored) in one zone of the lake."""
    return [
        str(settings.lake / name)
        for record in records
        if record.status == "stored"
        for name in record.files
        if name.startswith(f"{zone}/")
    ]


def _lake_view(con: duckdb.DuckDBPyConnection, name: str, files: list[str], schema: pa.Schema) -> None:
    """A view of the lake files that count, scanned by DuckDB's own Parquet reader (streaming, inside
    its memory limit); for an empty lake, an empty table of the lake schema. Dropped before publish."""
    if files:
        con.read_parquet(files, hive_partitioning=False).create_view(name, replace=True)
    else:
        con.register(name, schema.empty_table())


def build_warehouse(settings: Settings, target: Path) -> dict[str, int]:
    """Create every object of CONTRACT.md in ``target`` (a new file); return row counts per table."""
    if target.exists():
        raise FileExistsError(f"{target} exists: the warehouse is always built in a new file")
    records = Ledger(settings.ledger_dir).records()
    con = connect_for_build(target)
    try:
        con.execute(read_sql("create_macros"))
        for name, csv_name in (("nations", "nations.csv"), ("activities", "activities.csv"), ("iterations", "iterations.csv")):
            con.execute(read_sql(f"create_{name}"), {"path": str(settings.reference_dir / csv_name)})
        con.register("ledger_records", _ledger_table(records))
        con.execute(read_sql("create_deliveries"))
        _lake_view(con, "lake_participation", lake_files(settings, records, "participation"), PARTICIPATION_SCHEMA)
        con.execute(read_sql("create_participation"))
        _lake_view(con, "lake_quarantine", lake_files(settings, records, "quarantine"), QUARANTINE_SCHEMA)
        con.execute(read_sql("create_quarantine"))
        for table in METRIC_TABLES:
            con.execute(read_sql(table))
        con.execute(read_sql("comment_objects"))
        con.unregister("ledger_records")
        for view in ("lake_participation", "lake_quarantine"):
            if view in {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}:
                con.execute(read_sql(f"drop_{view}"))
            else:
                con.unregister(view)
        tables = con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()
        counts = {name: con.table(name).shape[0] for (name,) in tables}
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts
