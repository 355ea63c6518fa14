"""1M xAPI statements as JSON Lines (issue 13): bare DuckDB against the txpipe ingest, in one run.

Part of `make bench` (benchmarks/bench.py --statements N). The export is written by
`txpipe generate --source jadl-lrs --lrs N` (realistic cmi5 sequences, 2% planted defects):
- baseline: bare DuckDB reading the same file and grouping statements by learner, activity and
  registration into Parquet (no rules, no voiding, no verbs, no validation, no pseudonymisation);
- txpipe library ingest (the flow's calls, no Prefect) and `txpipe ingest` (with its temporary server).
Each is a separate process: wall seconds, statements/s and the peak RSS of the process tree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

BASELINE = r'''
import sys, duckdb
path, out = sys.argv[1:3]
con = duckdb.connect(":memory:")
con.execute(f"""COPY (
    SELECT json_extract_string(json, '$.actor.mbox') AS learner,
           json_extract_string(json, '$.object.id') AS activity,
           json_extract_string(json, '$.context.registration') AS registration,
           min(json_extract_string(json, '$.timestamp')) AS first_at,
           max(json_extract_string(json, '$.timestamp')) AS last_at, count(*) AS statements
    FROM read_ndjson_objects('{path}', ignore_errors = true) GROUP BY ALL)
    TO '{out}' (FORMAT parquet)""")
'''


def statements_landing(out: Path, statements: int, txpipe: list[str]) -> Path:
    landing = out / "data" / f"statements-{statements}" / "landing"
    export = landing / "jadl-lrs" / "jadl_lrs_export.jsonl"
    if not export.exists():
        shutil.rmtree(landing, ignore_errors=True)
        subprocess.run(
            [
                *txpipe,
                "generate",
                str(landing),
                "--source",
                "jadl-lrs",
                "--lrs",
                str(statements),
                "--seed",
                "7",
                "--defect-rate",
                "0.02",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return landing


def measure_statements(
    statements: int, *, out: Path, python: str, txpipe: list[str], in_process: str, measure, env_for, fresh
) -> dict:
    landing = statements_landing(out, statements, txpipe)
    export = landing / "jadl-lrs" / "jadl_lrs_export.jsonl"
    base = measure([python, "-c", BASELINE, str(export), str(out / f"baseline-statements-{statements}.parquet")])
    home = fresh(out / "homes" / f"statements-{statements}")
    library = measure([python, "-c", in_process, str(landing), "ingest"], env_for(home))
    [ledger] = [json.loads(p.read_text()) for p in (home / "lake" / "deliveries").glob("*.json")]
    if ledger["status"] != "stored":
        raise RuntimeError(f"the export was not stored: {ledger['reason']}")
    cli = measure(
        [*txpipe, "ingest", "--landing", str(landing)], env_for(fresh(out / "homes" / f"statements-cli-{statements}"))
    )
    entry = {
        "statements": statements,
        "file_mib": round(export.stat().st_size / 2**20),
        "counts": ledger["statements"],
        "records": ledger["rows_read"] - ledger["statements"]["quarantined"],
        "baseline": base,
        "txpipe_ingest_library": library,
        "txpipe_ingest_cli": cli,
        "ratio_library": round(library["seconds"] / base["seconds"], 2),
        "ratio_cli": round(cli["seconds"] / base["seconds"], 2),
    }
    for key in ("baseline", "txpipe_ingest_library", "txpipe_ingest_cli"):
        entry[key]["statements_per_s"] = round(statements / entry[key]["seconds"])
    return entry
