"""What users would pick instead of txpipe, on the same files and in the same run (issue 14).

Part of `make bench` (benchmarks/bench.py --compare 1000000 5000000). For each size, on one e-learning
CSV delivery of realistic content from `txpipe generate` (the same file `bench.py` measures):

- bare DuckDB: read_csv -> Parquet -> the metric SQL (bench.py's BASELINE);
- dlt: Arrow batches from pyarrow's CSV reader loaded into DuckDB (loads only, no validation), run in
  its own virtual environment from the bench-only lock `benchmarks/requirements-bench.lock`
  (`.venv-bench`, made by `make bench`; dlt is never a txpipe dependency);
- the tutorial way: pandas read_csv, GX validating the whole frame (11 expectations), to_parquet,
  DuckDB for the metrics;
- txpipe library ingest + build, and the whole `txpipe run`;

and, at the largest size, the same delivery with every activity code rewritten the way a source that
changed its code format would write it (`n5_35`): every row is quarantined.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

DLT = r"""
import sys
import dlt
import pyarrow.csv as pv
path, database, work = sys.argv[1:4]

def batches():
    reader = pv.open_csv(path, read_options=pv.ReadOptions(block_size=16 << 20))
    for batch in reader:
        yield batch

pipeline = dlt.pipeline(pipeline_name="bench", destination=dlt.destinations.duckdb(database),
                        dataset_name="lake", pipelines_dir=work, progress=None)
pipeline.run(dlt.resource(batches(), name="participation", write_disposition="replace"))
"""

PANDAS_GX = r'''
import sys
import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
path, parquet, sql_dir, reference = sys.argv[1:5]
frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
nations = pd.read_csv(f"{reference}/nations.csv", dtype=str)["code"].tolist()
activities = pd.read_csv(f"{reference}/activities.csv", dtype=str)["activity_code"].tolist()
context = gx.get_context(mode="ephemeral")
batch = (context.data_sources.add_pandas("tutorial").add_dataframe_asset("roster")
         .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
suite = context.suites.add(gx.ExpectationSuite(name="participation", expectations=[
    gxe.ExpectColumnValuesToNotBeNull(column="source_record_id"),
    gxe.ExpectColumnValuesToBeInSet(column="programme", value_set=["education", "training", "exercise"]),
    gxe.ExpectColumnValuesToMatchRegex(column="activity_code", regex=r"^[A-Z][A-Z0-9]{0,5}(-[A-Z0-9]{1,6}){1,3}$"),
    gxe.ExpectColumnValuesToBeInSet(column="activity_code", value_set=activities, mostly=0.01),
    gxe.ExpectColumnValuesToMatchStrftimeFormat(column="start_date", strftime_format="%Y-%m-%d"),
    gxe.ExpectColumnValuesToMatchStrftimeFormat(column="end_date", strftime_format="%Y-%m-%d"),
    gxe.ExpectColumnValuesToBeInSet(column="nation", value_set=nations),
    gxe.ExpectColumnValuesToNotBeNull(column="participant_ref"),
    gxe.ExpectColumnValuesToBeInSet(column="status", value_set=["nominated", "registered", "cancelled", "no_show",
                                    "attended", "completed", "passed", "failed", "withdrawn"]),
    gxe.ExpectColumnValuesToBeInSet(column="delivery_mode",
                                    value_set=["resident", "mobile", "online", "blended", "field"]),
    gxe.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=100),
]))
frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
result = batch.validate(suite, result_format="SUMMARY")
frame.to_parquet(parquet)
con = duckdb.connect(":memory:")
from pathlib import Path
con.execute(Path(sql_dir, "create_macros.sql").read_text())
for name in ("nations", "activities", "iterations"):
    con.execute(Path(sql_dir, f"create_{name}.sql").read_text(), {"path": f"{reference}/{name}.csv"})
con.execute(f"""CREATE TABLE participation AS
    SELECT p.* REPLACE (CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date,
                        CAST(headcount AS INTEGER) AS headcount),
           participant_ref AS participant_pid, n.framework
    FROM read_parquet('{parquet}') p
    LEFT JOIN nations n ON n.code = p.nation
        AND CAST(p.start_date AS DATE) BETWEEN coalesce(n.valid_from, DATE '0001-01-01')
                                           AND coalesce(n.valid_to, DATE '9999-12-31')""")
for metric in ("metrics_participation", "metrics_outcomes", "metrics_gender", "metrics_partner_coverage",
               "metrics_exercises", "metrics_fill_rate"):
    con.execute(Path(sql_dir, f"{metric}.sql").read_text())
'''

ALL_QUARANTINED = r'''
import sys, duckdb
source, target = sys.argv[1:3]
duckdb.execute("SET enable_progress_bar = false")
duckdb.sql(f"""COPY (SELECT * REPLACE (replace(lower(activity_code), '-', '_') AS activity_code)
                FROM read_csv('{source}', all_varchar = true)) TO '{target}' (HEADER)""")
'''


def all_quarantined_landing(out: Path, python: str, landing: Path, rows: int) -> Path:
    """The realistic delivery with its activity codes in a format the rules refuse (every row quarantined)."""
    target = out / "data" / f"quarantined-{rows}" / "landing" / "jadl" / "jadl_01.csv"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([python, "-c", ALL_QUARANTINED, str(landing / "jadl" / "jadl_01.csv"), str(target)], check=True)
    return target.parents[1]


def compare(
    rows: int,
    *,
    out: Path,
    python: str,
    bench_python: Path,
    txpipe: list[str],
    landing: Path,
    baseline: str,
    in_process: str,
    measure,
    env_for,
    fresh,
    sql_dir: Path,
    reference: Path,
) -> dict:
    """Every way, once each, on the same delivery; seconds, rows/s, peak RSS and the ratios to bare DuckDB."""
    csv_path = landing / "jadl" / "jadl_01.csv"
    ways = {
        "bare_duckdb": [
            python,
            "-c",
            baseline,
            str(csv_path),
            str(out / f"cmp-baseline-{rows}.parquet"),
            str(sql_dir),
            str(reference),
        ],
        "dlt": [
            str(bench_python),
            "-c",
            DLT,
            str(csv_path),
            str(out / f"cmp-dlt-{rows}.duckdb"),
            str(fresh(out / "homes" / f"dlt-{rows}")),
        ],
        "pandas_gx": [
            python,
            "-c",
            PANDAS_GX,
            str(csv_path),
            str(out / f"cmp-pandas-{rows}.parquet"),
            str(sql_dir),
            str(reference),
        ],
    }
    entry: dict = {"rows": rows}
    (out / f"cmp-dlt-{rows}.duckdb").unlink(missing_ok=True)
    for name, command in ways.items():
        entry[name] = measure(command)
    entry["dlt"]["rows_loaded"] = _rows_loaded(out / f"cmp-dlt-{rows}.duckdb")
    entry["txpipe_ingest_build"] = measure(
        [python, "-c", in_process, str(landing), "build"], env_for(fresh(out / "homes" / f"cmp-lib-{rows}"))
    )
    entry["txpipe_run"] = measure(
        [*txpipe, "run", "--landing", str(landing)], env_for(fresh(out / "homes" / f"cmp-run-{rows}"))
    )
    for name in ("bare_duckdb", "dlt", "pandas_gx", "txpipe_ingest_build", "txpipe_run"):
        entry[name]["rows_per_s"] = round(rows / entry[name]["seconds"])
        entry[name]["ratio_to_bare_duckdb"] = round(entry[name]["seconds"] / entry["bare_duckdb"]["seconds"], 2)
    return entry


def _rows_loaded(database: Path) -> int:
    """What dlt loaded, counted in its DuckDB file (so a load that silently did nothing shows)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT count(*) FROM lake.participation").fetchone()[0]


def compare_all_quarantined(
    rows: int,
    realistic: dict,
    *,
    out: Path,
    python: str,
    txpipe: list[str],
    landing: Path,
    in_process: str,
    measure,
    env_for,
    fresh,
) -> dict:
    bad = all_quarantined_landing(out, python, landing, rows)
    library = measure(
        [python, "-c", in_process, str(bad), "build"], env_for(fresh(out / "homes" / f"cmp-bad-lib-{rows}"))
    )
    run = measure([*txpipe, "run", "--landing", str(bad)], env_for(fresh(out / "homes" / f"cmp-bad-run-{rows}")))
    return {
        "rows": rows,
        "txpipe_ingest_build": library,
        "txpipe_run": run,
        "ratio_to_realistic_ingest_build": round(library["seconds"] / realistic["txpipe_ingest_build"]["seconds"], 2),
        "ratio_to_realistic_run": round(run["seconds"] / realistic["txpipe_run"]["seconds"], 2),
    }
