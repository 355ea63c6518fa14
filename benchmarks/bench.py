"""txpipe against bare DuckDB on the same deliveries, in one run: `make bench`.

For each size (rows of one e-learning CSV delivery made by `txpipe generate`):
- baseline: bare DuckDB doing the minimum equivalent work: read_csv -> Parquet -> the same
  metric SQL files (no validation, no pseudonymisation, no quarantine, no ledger);
- txpipe in-process: the library calls (ingest the delivery, build and publish, export marts);
- txpipe run: the whole command, with its temporary Prefect server.
Each is a separate process; wall seconds, rows/s and the peak RSS of its whole process tree are
measured. Then: the fixed costs (the library's start: interpreter, pandas, pyarrow, DuckDB, GX and
the suite; bare DuckDB's start), a re-run with nothing new, and one 10k-row delivery into an empty
lake and into the lake of the largest size; and 1M xAPI statements as JSON Lines (statements.py).
Results go to benchmarks/out/results.json.

    python benchmarks/bench.py [--sizes 100000 1000000 5000000] [--small-files 1000] [--statements 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from compare import compare, compare_all_quarantined  # benchmarks/ is on sys.path when this file is run
from statements import measure_statements

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
PYTHON = sys.executable
TXPIPE = [PYTHON, "-m", "txpipe"]

BASELINE = r'''
import sys, duckdb
from pathlib import Path
csv_path, parquet_path, sql_dir, reference = sys.argv[1:5]
con = duckdb.connect(":memory:")
con.execute(Path(sql_dir, "create_macros.sql").read_text())
for name in ("nations", "activities", "iterations"):
    con.execute(Path(sql_dir, f"create_{name}.sql").read_text(), {"path": f"{reference}/{name}.csv"})
con.execute(f"""COPY (SELECT * REPLACE (CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date,
                     CAST(headcount AS INTEGER) AS headcount, CAST(score AS DOUBLE) AS score)
                     FROM read_csv('{csv_path}', all_varchar = true))
               TO '{parquet_path}' (FORMAT parquet, COMPRESSION zstd)""")
con.execute(f"""CREATE TABLE participation AS
    SELECT p.*, participant_ref AS participant_pid, n.framework
    FROM read_parquet('{parquet_path}') p
    LEFT JOIN nations n ON n.code = p.nation
        AND p.start_date BETWEEN coalesce(n.valid_from, DATE '0001-01-01')
                             AND coalesce(n.valid_to, DATE '9999-12-31')""")
for metric in ("metrics_participation", "metrics_outcomes", "metrics_gender", "metrics_partner_coverage",
               "metrics_exercises", "metrics_fill_rate"):
    con.execute(Path(sql_dir, f"{metric}.sql").read_text())
'''

IN_PROCESS = r"""
import sys
from txpipe.ingest import IngestContext
from txpipe.jobs.build_job import build, plan_build
from txpipe.jobs.ingest_job import ingest_new
from txpipe.settings import Settings
settings = Settings.from_env()
ctx = IngestContext.create(settings, "bench")
ingest_new(settings, sys.argv[1], run_id="bench", context=ctx)  # the flow's job, its batches in this process
if sys.argv[2] == "build":
    build(settings, plan_build(settings))  # publish, marts, pages: the build flow's job
"""

# What the library pays before its first row: the interpreter, pandas/pyarrow/DuckDB, GX and the suite.
LIBRARY_START = (
    "from txpipe.ingest import IngestContext\nfrom txpipe.settings import Settings\n"
    "IngestContext.create(Settings.from_env(), 'start')\n"
)

# The interpreter and a trivial Prefect flow on a temporary server, with txpipe's Prefect settings.
STARTUP = (
    "from txpipe.ops.prefect_server import apply_prefect_defaults\napply_prefect_defaults()\n"
    "from flows.runtime import prefect_run_settings\n"
    "from prefect import flow\nwith prefect_run_settings():\n    flow(name='noop')(lambda: None)()\n"
)


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(c) for c in handle.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(command: list[str], env: dict | None = None) -> dict:
    """Wall seconds and peak RSS of the whole process tree of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = process.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err.decode()[-3000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak / 2**20)}


def env_for(home: Path) -> dict:
    env = {
        **os.environ,
        "TXPIPE_HOME": str(home),
        "TXPIPE_PSEUDONYM_KEY": "benchmark",
        "PREFECT_HOME": str(OUT / "prefect"),
    }
    env.pop("PREFECT_API_URL", None)
    return env


def landing_for(rows: int, seed: int = 7) -> Path:
    landing = OUT / "data" / f"{rows}" / "landing"
    if not (landing / "jadl" / "jadl_01.csv").exists():
        shutil.rmtree(landing, ignore_errors=True)
        subprocess.run(
            [
                *TXPIPE,
                "generate",
                str(landing),
                "--rows",
                str(rows),
                "--source",
                "jadl",
                "--files",
                "1",
                "--seed",
                str(seed),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return landing


def small_files_landing(files: int, rows_per_file: int = 20) -> Path:
    landing = OUT / "data" / f"small-{files}" / "landing"
    if len(list((landing / "jadl").glob("*.csv"))) != files:
        shutil.rmtree(landing, ignore_errors=True)
        subprocess.run(
            [
                *TXPIPE,
                "generate",
                str(landing),
                "--rows",
                str(files * rows_per_file),
                "--source",
                "jadl",
                "--files",
                str(files),
                "--seed",
                "7",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return landing


def line_count(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def measure_small_files(files: int, sql_dir: Path, reference: Path) -> dict:
    """Many small deliveries (issue 12: 1,000 files of 20 rows in under 60 s): bare DuckDB reading them
    all with one glob, the library ingest (batched as the flow batches them), and `txpipe ingest`."""
    landing = small_files_landing(files)
    rows = sum(line_count(p) - 1 for p in (landing / "jadl").glob("*.csv"))
    base = measure(
        [
            PYTHON,
            "-c",
            BASELINE,
            str(landing / "jadl" / "*.csv"),
            str(OUT / f"baseline-small-{files}.parquet"),
            str(sql_dir),
            str(reference),
        ]
    )
    library = measure(
        [PYTHON, "-c", IN_PROCESS, str(landing), "ingest"], env_for(fresh(OUT / "homes" / f"small-{files}"))
    )
    cli = measure([*TXPIPE, "ingest", "--landing", str(landing)], env_for(fresh(OUT / "homes" / f"small-cli-{files}")))
    return {
        "files": files,
        "rows": rows,
        "baseline": base,
        "txpipe_ingest_library": library,
        "txpipe_ingest_cli": cli,
        "ratio_library": round(library["seconds"] / base["seconds"], 2),
        "ratio_cli": round(cli["seconds"] / base["seconds"], 2),
    }


def fresh(home: Path) -> Path:
    shutil.rmtree(home, ignore_errors=True)
    return home


def extra_landing() -> Path:
    """A landing holding one new 10k-row delivery (a source of its own, so it adds to any lake)."""
    small = landing_for(10_000, seed=11)
    extra = OUT / "data" / "extra" / "landing"
    shutil.rmtree(extra, ignore_errors=True)
    (extra / "jadl_extra").mkdir(parents=True)
    shutil.copy(small / "jadl" / "jadl_01.csv", extra / "jadl_extra" / "extra.csv")
    return extra


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--small-files", type=int, default=1000, help="files of 20 rows (0: skip)")
    parser.add_argument("--statements", type=int, default=1_000_000, help="xAPI statements as JSON Lines (0: skip)")
    parser.add_argument(
        "--compare",
        type=int,
        nargs="*",
        default=[1_000_000, 5_000_000],
        help="sizes at which dlt and pandas + GX are measured beside bare DuckDB and txpipe",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    sql_dir, reference = ROOT / "src" / "txpipe" / "warehouse" / "sql", ROOT / "data" / "reference"
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
        "sizes": {},
    }
    for rows in args.sizes:
        landing = landing_for(rows)
        csv_path = landing / "jadl" / "jadl_01.csv"
        base = measure(
            [PYTHON, "-c", BASELINE, str(csv_path), str(OUT / f"baseline-{rows}.parquet"), str(sql_dir), str(reference)]
        )
        ingest_only = measure(
            [PYTHON, "-c", IN_PROCESS, str(landing), "ingest"], env_for(fresh(OUT / "homes" / f"ingest-{rows}"))
        )
        home = fresh(OUT / "homes" / f"lib-{rows}")
        library = measure([PYTHON, "-c", IN_PROCESS, str(landing), "build"], env_for(home))
        home = fresh(OUT / "homes" / f"cli-{rows}")
        cli = measure([*TXPIPE, "run", "--landing", str(landing)], env_for(home))
        entry = {
            "rows": rows,
            "file_mib": round(csv_path.stat().st_size / 2**20),
            "baseline": base,
            "txpipe_ingest_only": ingest_only,
            "txpipe_in_process": library,
            "txpipe_run": cli,
            "ratio_in_process": round(library["seconds"] / base["seconds"], 2),
            "ratio_run": round(cli["seconds"] / base["seconds"], 2),
        }
        for key in ("baseline", "txpipe_ingest_only", "txpipe_in_process", "txpipe_run"):
            entry[key]["rows_per_s"] = round(rows / entry[key]["seconds"])
        results["sizes"][str(rows)] = entry
        print(json.dumps(entry), flush=True)

    if args.small_files:
        results["small_files"] = measure_small_files(args.small_files, sql_dir, reference)
        print(json.dumps(results["small_files"]), flush=True)
    if args.compare:
        results["compare"] = {}
        for rows in args.compare:
            common = {
                "out": OUT,
                "python": PYTHON,
                "txpipe": TXPIPE,
                "landing": landing_for(rows),
                "in_process": IN_PROCESS,
                "measure": measure,
                "env_for": env_for,
                "fresh": fresh,
            }
            entry = compare(
                rows,
                bench_python=ROOT / ".venv-bench" / "bin" / "python",
                baseline=BASELINE,
                sql_dir=sql_dir,
                reference=reference,
                **common,
            )
            results["compare"][str(rows)] = entry
            print(json.dumps(entry), flush=True)
        largest = max(args.compare)
        results["compare"]["all_quarantined"] = compare_all_quarantined(
            largest, results["compare"][str(largest)], **{**common, "landing": landing_for(largest)}
        )
        print(json.dumps(results["compare"]["all_quarantined"]), flush=True)
        # A whole run (ingest, build, marts, dashboard) adding 10k rows: to an empty home, then to the
        # home the largest `txpipe run` above left (its lake holds the largest delivery).
        extra = extra_landing()
        empty = measure([*TXPIPE, "run", "--landing", str(extra)], env_for(fresh(OUT / "homes" / "run-10k-empty")))
        big = measure([*TXPIPE, "run", "--landing", str(extra)], env_for(OUT / "homes" / f"cmp-run-{largest}"))
        results["compare"]["run_10k"] = {
            "into_empty_lake": empty,
            f"into_{largest}_row_lake": big,
            "ratio": round(big["seconds"] / empty["seconds"], 2),
        }
        print(json.dumps(results["compare"]["run_10k"]), flush=True)
    if args.statements:
        results["xapi_statements"] = measure_statements(
            args.statements,
            out=OUT,
            python=PYTHON,
            txpipe=TXPIPE,
            in_process=IN_PROCESS,
            measure=measure,
            env_for=env_for,
            fresh=fresh,
        )
        print(json.dumps(results["xapi_statements"]), flush=True)
    if not args.sizes:
        (OUT / "results.json").write_text(json.dumps(results, indent=2))
        return
    largest = max(args.sizes)
    results["fixed_costs"] = {
        "library_start": measure([PYTHON, "-c", LIBRARY_START], env_for(fresh(OUT / "homes" / "library-start"))),
        "bare_duckdb_start": measure([PYTHON, "-c", "import duckdb; duckdb.connect().execute('SELECT 1')"]),
    }
    print(json.dumps(results["fixed_costs"]), flush=True)
    startup = measure([PYTHON, "-c", STARTUP], env_for(fresh(OUT / "homes" / "startup")))
    rerun = measure([*TXPIPE, "run", "--landing", str(landing_for(largest))], env_for(OUT / "homes" / f"cli-{largest}"))
    results["rerun_nothing_new"] = {
        "run": rerun,
        "interpreter_and_prefect_start": startup,
        "beyond_start_seconds": round(rerun["seconds"] - startup["seconds"], 2),
    }
    extra = extra_landing()
    empty = measure([PYTHON, "-c", IN_PROCESS, str(extra), "ingest"], env_for(fresh(OUT / "homes" / "empty-lake")))
    big = measure([PYTHON, "-c", IN_PROCESS, str(extra), "ingest"], env_for(OUT / "homes" / f"lib-{largest}"))
    results["delivery_10k"] = {
        "into_empty_lake": empty,
        f"into_{largest}_row_lake": big,
        "ratio": round(big["seconds"] / empty["seconds"], 2),
    }
    print(json.dumps({k: results[k] for k in ("rerun_nothing_new", "delivery_10k")}), flush=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nresults: {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
