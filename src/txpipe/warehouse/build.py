"""Build every warehouse object from the lake, the ledger and the reference data, in a file no reader has.

The file is new, or a copy of the published warehouse when that one can be extended (built from the
same reference data, SQL and txpipe version, and every delivery it holds still stored): then only
the deliveries stored since it was built are read, and the small tables and the metrics are made
again. Either way the result is the same warehouse. The file is written so that DuckDB 1.4+ can open
it (storage compatibility v1.4.0). Only the lake files of deliveries the ledger marks ``stored`` are
read for participation; the quarantine also reads those of superseded deliveries (its history), and
every build judges again which quarantined rows still stand (``sql/mark_current_quarantine.sql``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import duckdb
import pyarrow as pa

import txpipe
from txpipe.reference import check_nations
from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA
from txpipe.settings import BUILD_MEMORY_LIMIT, Settings
from txpipe.store.lake import LAKE
from txpipe.store.ledger import DeliveryRecord, Ledger
from txpipe.store.objects import open_store
from txpipe.warehouse import METRIC_TABLES, SQL_DIR, read_sql

STORAGE_COMPATIBILITY = "v1.4.0"

LEDGER_SCHEMA = pa.schema(
    [
        ("batch_id", pa.string()),
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("sha256", pa.string()),
        ("received_at", pa.string()),
        ("status", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_stored", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_duplicate", pa.int64()),
        ("reason", pa.string()),
        ("ignored_columns", pa.list_(pa.string())),
        ("superseded_by", pa.string()),
        ("kept", pa.string()),
        ("mtime_ns", pa.int64()),
        *((f"statements_{count}", pa.int64()) for count in ("read", "used", "ignored", "quarantined")),
    ]
)


def connect_for_build(
    path: Path, memory_limit: str = BUILD_MEMORY_LIMIT, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """The warehouse file being built; DuckDB's memory is capped (Settings.build_memory, TXPIPE_DUCKDB_MEMORY,
    default 512MB: a 5M-row build takes about as long as under 1GB) and spills beyond."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "storage_compatibility_version": STORAGE_COMPATIBILITY,
        "memory_limit": memory_limit,
        "temp_directory": str(path.parent / f"{path.name}.tmp"),
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(str(path), config=config)
    con.execute("SET TimeZone = 'UTC'")  # ICU loads after connect, so not in config
    con.execute("SET enable_progress_bar = false")  # a local option: no bar drawn on a run's console
    return con


def _ledger_table(records: list[DeliveryRecord]) -> pa.Table:
    rows = [
        {
            **{k: v for k, v in asdict(r).items() if k in LEDGER_SCHEMA.names},
            **{f"statements_{k}": v for k, v in (r.statements or {}).items()},
        }
        for r in records
    ]
    return pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA)


def lake_files(
    settings: Settings,
    records: list[DeliveryRecord],
    zone: str,
    held: frozenset[str] = frozenset(),
    statuses: tuple[str, ...] = ("stored",),
) -> list[str]:
    """Lake files as local paths (an S3 store's are fetched once into its cache: DuckDB reads local files
    only), in one zone of the lake, of the deliveries that count (status stored; or of the given statuses)
    and are not held."""
    keys = [
        LAKE + name
        for record in records
        if record.status in statuses and record.batch_id not in held
        for name in record.files
        if name.startswith(f"{zone}/")
    ]
    return [str(path) for path in open_store(settings).local_files(keys)]


def inputs_fingerprint(settings: Settings) -> str:
    """What a build reads besides the lake and the ledger: the reference data, the SQL, txpipe's version."""
    digest = hashlib.sha256(txpipe.__version__.encode())
    for directory, pattern in ((settings.reference_dir, "*.csv"), (SQL_DIR, "*.sql")):
        for path in sorted(directory.glob(pattern)) if directory.exists() else []:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def held_deliveries(warehouse: Path, settings: Settings, records: list[DeliveryRecord]) -> frozenset[str] | None:
    """The stored deliveries a warehouse holds, when a build may start from a copy of it: it recorded
    the current inputs fingerprint and every delivery it holds is still stored. Else None."""
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            recorded = con.execute(read_sql("read_inputs")).fetchall()
            held = frozenset(batch for (batch,) in con.execute(read_sql("held_deliveries")).fetchall())
    except duckdb.Error:  # no file, a file of an older build, a file another process writes
        return None
    stored = {record.batch_id for record in records if record.status == "stored"}
    return held if recorded == [(inputs_fingerprint(settings),)] and held <= stored else None


def _lake_view(con: duckdb.DuckDBPyConnection, name: str, files: list[str], schema: pa.Schema) -> None:
    """A view of the lake files that count, scanned by DuckDB's own Parquet reader (streaming, inside
    its memory limit); for an empty lake, an empty table of the lake schema. Dropped before publish.

    Files are matched by column name: a file written before a column of the schema existed (the lake is
    immutable) reads NULL there, and so does the view when no file has it yet."""
    if files:
        lake = con.read_parquet(files, hive_partitioning=False, union_by_name=True)
        types = dict(zip(schema.names, con.from_arrow(schema.empty_table()).types, strict=True))
        missing = [f'CAST(NULL AS {types[c]}) AS "{c}"' for c in schema.names if c not in lake.columns]
        (lake.project(", ".join(["*", *missing])) if missing else lake).create_view(name, replace=True)
    else:
        con.register(name, schema.empty_table())


def _quarantined_deliveries(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The deliveries whose quarantined rows the copy of a warehouse holds."""
    return frozenset(batch for (batch,) in con.execute(read_sql("quarantined_deliveries")).fetchall())


def build_warehouse(
    settings: Settings, target: Path, held: frozenset[str] = frozenset(), records: list[DeliveryRecord] | None = None
) -> dict[str, int]:
    """Create every object of docs/CONTRACT.md in ``target`` (a new file, or a copy of a warehouse holding the
    stored deliveries ``held``, see held_deliveries) from the ledger's ``records`` (read if not given);
    return row counts per table."""
    if target.exists() and not held:
        raise FileExistsError(f"{target} exists: the warehouse is built in a new file or a copy")
    records = Ledger.of(settings).records() if records is None else records
    con = connect_for_build(target, settings.build_memory)
    try:
        _reference_tables(con, settings, records)
        _add_deliveries(con, settings, records, held)
        for table in METRIC_TABLES:
            con.execute(read_sql(table))
        con.execute(read_sql("comment_objects"))
        con.execute(read_sql("record_inputs"), {"fingerprint": inputs_fingerprint(settings)})
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
        ).fetchall()
        counts = {name: con.table(name).shape[0] for (name,) in tables}
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts


def _reference_tables(con: duckdb.DuckDBPyConnection, settings: Settings, records: list[DeliveryRecord]) -> None:
    """The macros, the reference tables and the deliveries table, made again by every build."""
    check_nations(settings.reference_dir / "nations.csv")  # overlapping periods would duplicate participation rows
    con.execute(read_sql("create_macros"))
    for name, csv_name in (
        ("nations", "nations.csv"),
        ("activities", "activities.csv"),
        ("iterations", "iterations.csv"),
    ):
        con.execute(read_sql(f"create_{name}"), {"path": str(settings.reference_dir / csv_name)})
    con.register("ledger_records", _ledger_table(records))
    con.execute(read_sql("create_deliveries"))
    con.unregister("ledger_records")


def _add_deliveries(
    con: duckdb.DuckDBPyConnection, settings: Settings, records: list[DeliveryRecord], held: frozenset[str]
) -> None:
    """Participation rows of the stored deliveries the file does not hold yet; quarantined rows of the
    stored and superseded deliveries it does not hold yet (the quarantine keeps its history), each
    marked current or not."""
    _lake_view(con, "lake_participation", lake_files(settings, records, "participation", held), PARTICIPATION_SCHEMA)
    for name in ("incoming_participation", "create_participation", "replaced_versions", "insert_participation"):
        con.execute(read_sql(name))
    judged = ("stored", "superseded")
    in_quarantine = _quarantined_deliveries(con) if held else frozenset()
    files = lake_files(settings, records, "quarantine", in_quarantine, judged)
    _lake_view(con, "lake_quarantine", files, QUARANTINE_SCHEMA)
    con.execute(read_sql("create_quarantine"))
    con.execute(read_sql("mark_current_quarantine"))
    views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    for view in ("lake_participation", "lake_quarantine"):
        if view in views:
            con.execute(read_sql(f"drop_{view}"))
        else:
            con.unregister(view)
