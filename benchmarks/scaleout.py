"""Scale-out on this machine, in one run: `python benchmarks/scaleout.py [--rows N] [--files F]`.

1. The development services (SeaweedFS's S3, PostgreSQL, a Prefect server on it) started with
   ``running_services`` in a fresh scratch folder, and stopped at the end: seconds for each.
2. Ingest of a landing of F e-learning CSV deliveries totalling N rows (`txpipe generate`): one worker
   process into the local store (TXPIPE_STORE unset); one worker into SeaweedFS; two workers at once into
   SeaweedFS, each a process with its own TXPIPE_HOME and half of the work items of ``plan_work`` (dealt
   alternately: no item is ingested twice). Each S3 run goes to a fresh store prefix.
3. ``build(settings, plan_build(settings, full_rebuild=True))`` on the local-store home and on a fresh
   builder home over the one-worker S3 prefix, beside bare DuckDB: one connection doing
   ``CREATE TABLE participation AS SELECT * FROM read_parquet([the local lake's files])`` into a file.

Every measured thing is a subprocess: wall seconds, the peak RSS of its process tree, its CPU seconds (of
all the processes run at once), the 1-minute load average before it (the machine is shared) and, for S3
runs, the CPU seconds and peak RSS of the SeaweedFS server. A step that fails is recorded with its error
(and the stored objects kept in benchmarks/out/scaleout/services/seaweedfs); the others still run.
Results: benchmarks/out/scaleout.json; each process's output: benchmarks/out/scaleout/logs/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path

from bench import OUT, PYTHON, TXPIPE, env_for, fresh, tree_rss  # benchmarks/ is on sys.path when run

from txpipe.jobs.plan_job import plan_work
from txpipe.ops.services import Services, running_services
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.warehouse.build import lake_files

WORK = OUT / "scaleout"
WORKER = r"""
import json, sys, time
from txpipe.jobs.ingest_job import ingest_new
from txpipe.settings import Settings
began = time.perf_counter()
run = ingest_new(Settings.from_env(), sys.argv[1], run_id=sys.argv[2], files=json.loads(sys.argv[3]))
print(json.dumps({"call_seconds": round(time.perf_counter() - began, 2), "records": len(run.records),
                  "rows_read": sum(r.rows_read for r in run.records), "lost": len(run.already_committed),
                  "rows_stored": sum(r.rows_stored for r in run.records), "failed": len(run.failed)}))
"""
BUILD = r"""
import json, time
from txpipe.jobs.build_job import build, plan_build
from txpipe.settings import Settings
settings = Settings.from_env()
began = time.perf_counter()
result = build(settings, plan_build(settings, full_rebuild=True))
seconds = round(time.perf_counter() - began, 2)
print(json.dumps({"call_seconds": seconds, "participation": result.counts["participation"]}))
"""
BASELINE = r"""
import json, sys, time, duckdb
from pathlib import Path
began = time.perf_counter()
con = duckdb.connect(sys.argv[2])
listed = ", ".join(f"'{name}'" for name in json.loads(Path(sys.argv[1]).read_text()))
con.execute(f"CREATE TABLE participation AS SELECT * FROM read_parquet([{listed}])")
rows = con.execute("SELECT count(*) FROM participation").fetchone()[0]
con.close()
print(json.dumps({"call_seconds": round(time.perf_counter() - began, 2), "participation": rows}))
"""


def tree_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by a live process and its live descendants."""
    total, stack, tick = 0.0, [pid] if pid else [], os.sysconf("SC_CLK_TCK")
    while stack:
        current = stack.pop()
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{current}/task"):
                stack.extend(int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split())
    return total


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_together(name: str, commands: list[tuple[list[str], dict]], watch: int | None = None) -> dict:
    """Start the commands at once and wait for all: wall seconds, each one's seconds and peak tree RSS, the
    peak of their sum, their CPU seconds, each one's last stdout line (JSON); and the watched server's."""
    logs = WORK / "logs" / name
    logs.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]  # the machine is shared: what else ran shows here
    cpu, server_cpu, began = children_cpu(), tree_cpu(watch), time.perf_counter()
    with contextlib.ExitStack() as files:
        procs = [
            subprocess.Popen(
                command,
                env=env,
                stdout=files.enter_context(open(logs / f"{i}.out", "wb")),
                stderr=files.enter_context(open(logs / f"{i}.err", "wb")),
            )
            for i, (command, env) in enumerate(commands)
        ]
        peaks, seconds = sample_while(procs, watch, began)
    wall = time.perf_counter() - began
    cpu = children_cpu() - cpu
    result = {"seconds": round(wall, 2), "each_seconds": seconds, "peak_rss_mib": peaks["each"]}
    result |= {"peak_rss_sum_mib": peaks["sum"], "cpu_seconds": round(cpu, 1), "cores_busy": round(cpu / wall, 2)}
    result["load_1m_before"] = round(load, 2)
    if watch:
        result["s3_server"] = {"cpu_seconds": round(tree_cpu(watch) - server_cpu, 1), "peak_rss_mib": peaks["watch"]}
    result["out"] = [last_json(logs / f"{i}.out") for i in range(len(procs))]
    failed = [f"#{i} exited {p.returncode}: {(logs / f'{i}.err').read_text()[-1500:]}" for i, p in enumerate(procs)]
    if any(p.returncode for p in procs):  # kept with the figures; the run goes on
        result["error"] = "\n".join(f for f, p in zip(failed, procs, strict=True) if p.returncode)
        print(f"{name} FAILED:\n{result['error']}", flush=True)
    return result


def last_json(path: Path) -> dict | None:
    lines = path.read_text().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None


def ratio(a: dict, b: dict, key: str = "seconds") -> float | None:
    """a's figure over b's, when both ran without error."""
    return None if "error" in a or "error" in b else round(a[key] / b[key], 2)


def sample_while(procs: list[subprocess.Popen], watch: int | None, began: float) -> tuple[dict, list[float]]:
    """Sample every process tree's RSS (and the watched one's) every 50 ms, and when each ends, until all have."""
    peaks = {"each": [0] * len(procs), "sum": 0, "watch": 0}
    seconds: list[float | None] = [None] * len(procs)
    while None in seconds:
        sizes = [tree_rss(p.pid) for p in procs]
        peaks["each"] = [max(a, b) for a, b in zip(peaks["each"], sizes, strict=True)]
        peaks["sum"] = max(peaks["sum"], sum(sizes))
        peaks["watch"] = max(peaks["watch"], tree_rss(watch) if watch else 0)
        for i, process in enumerate(procs):
            if seconds[i] is None and process.poll() is not None:
                seconds[i] = round(time.perf_counter() - began, 2)
        time.sleep(0.05)
    mib = {"each": [round(b / 2**20) for b in peaks["each"]], "sum": round(peaks["sum"] / 2**20)}
    return mib | {"watch": round(peaks["watch"] / 2**20)}, [s or 0.0 for s in seconds]


def make_landing(rows: int, files: int) -> Path:
    landing = OUT / "data" / f"scaleout-{rows}-{files}" / "landing"
    if len(list((landing / "jadl").glob("*.csv"))) != files:
        shutil.rmtree(landing, ignore_errors=True)
        command = [*TXPIPE, "generate", str(landing), "--rows", str(rows), "--source", "jadl"]
        subprocess.run([*command, "--files", str(files), "--seed", "7"], check=True, stdout=subprocess.DEVNULL)
    return landing


def local_env(home: Path, new: bool = True) -> dict:
    """A process on the local store of ``home`` (emptied first when ``new``)."""
    env = env_for(fresh(home) if new else home)
    for name in ("TXPIPE_STORE", "TXPIPE_S3_ENDPOINT"):
        env.pop(name, None)
    return env


def s3_env(home: Path, services: Services, prefix: str) -> dict:
    """A process on the S3 store ``prefix`` of the services' bucket, with a fresh home of its own."""
    skip = ("PREFECT_API_URL", "TXPIPE_POSTGRES_URL")
    env = local_env(home) | {k: v for k, v in services.environ().items() if k not in skip}
    return env | {"TXPIPE_STORE": f"s3://{services.bucket}/{prefix}"}


def worker(landing: Path, files: list[str], run_id: str, env: dict) -> tuple[list[str], dict]:
    return [PYTHON, "-c", WORKER, str(landing), run_id, json.dumps(files)], env


def ingests(services: Services, landing: Path, rows: int) -> dict:
    """One worker into the local store, one into S3, two at once into S3 (alternate halves of the items)."""
    items = plan_work(Settings.from_env(local_env(WORK / "homes" / "planner")), landing)
    every = [f for item in items for f in item.files]
    halves = [[f for item in items[i::2] for f in item.files] for i in (0, 1)]
    weed = services.pids()["seaweedfs"]
    found = {"work_items": len(items), "files": len(every), "rows": rows, "two_workers": "alternate halves"}
    found["local_1_worker"] = run_together("ingest-local", [worker(landing, every, "local", local_env(home(1)))])
    found["s3_1_worker"] = run_together(
        "ingest-s3-1", [worker(landing, every, "s3-1", s3_env(home(2), services, "scaleout-w1"))], weed
    )
    two = [
        worker(landing, half, f"s3-2-{i}", s3_env(home(3 + i), services, "scaleout-w2"))
        for i, half in enumerate(halves)
    ]
    found["s3_2_workers"] = run_together("ingest-s3-2", two, weed)
    for key in ("local_1_worker", "s3_1_worker", "s3_2_workers"):
        run = found[key]
        run["rows_read"] = sum(out["rows_read"] for out in run["out"] if out)
        run["rows_per_s"] = round(run["rows_read"] / run["seconds"])
        print(f"ingest {key}: {json.dumps(run)}", flush=True)
    found["ratio_s3_2_over_1_worker_seconds"] = ratio(found["s3_2_workers"], found["s3_1_worker"])
    found["ratio_s3_1_worker_over_local_seconds"] = ratio(found["s3_1_worker"], found["local_1_worker"])
    return found


def home(n: int) -> Path:
    return WORK / "homes" / ["", "ingest-local", "ingest-s3-1", "ingest-s3-2a", "ingest-s3-2b", "build-s3"][n]


def builds(services: Services) -> dict:
    """The full rebuild from the local store and from S3, and bare DuckDB over the local lake's files."""
    settings = Settings.from_env(env_for(home(1)))
    listed = lake_files(settings, Ledger.of(settings).records(), "participation")
    (WORK / "lake-files.json").write_text(json.dumps(listed))
    database = WORK / "baseline.duckdb"
    database.unlink(missing_ok=True)
    local = local_env(home(1), new=False)  # the local ingest's home, as it is
    found = {"lake_files": len(listed)}
    found["baseline"] = run_together(
        "baseline", [([PYTHON, "-c", BASELINE, str(WORK / "lake-files.json"), str(database)], {**os.environ})]
    )
    print(f"build baseline: {json.dumps(found['baseline'])}", flush=True)
    weed = services.pids()["seaweedfs"]
    for key, env in (("local", local), ("s3", s3_env(home(5), services, "scaleout-w1"))):
        run = found[key] = run_together(f"build-{key}", [([PYTHON, "-c", BUILD], env)], weed if key == "s3" else None)
        run["ratio_vs_baseline"] = ratio(run, found["baseline"])
        if run["ratio_vs_baseline"] is not None:
            run["ratio_vs_baseline_calls"] = ratio(run["out"][0], found["baseline"]["out"][0], "call_seconds")
        print(f"build {key}: {json.dumps(run)}", flush=True)
    return found


def service_times(lines: list[str], pattern: str) -> dict:
    return {m[1]: float(m[2]) for line in lines if (m := re.match(rf"(\w+)\s+{pattern} ([\d.]+) s", line))}


def summarise(results: dict) -> None:
    print(json.dumps({k: v for k, v in results.items() if k not in ("ingest", "build")}))
    ingest, built = results["ingest"], results["build"]
    print(f"\n{results['rows']:,} rows in {results['files']} CSV deliveries, {ingest['work_items']} work items")
    for key in ("local_1_worker", "s3_1_worker", "s3_2_workers", "baseline", "local", "s3"):
        run = ingest.get(key) or built[key]
        line = f"{'ingest' if key in ingest else 'build':<6} {key:<15} {run['seconds']:7.1f} s"
        line += f" {run['rows_per_s']:>9,} rows/s" if "rows_per_s" in run else ""
        line += f" (call {run['out'][0]['call_seconds']} s)" if run["out"][0] else ""
        line += f"  peak RSS {run['peak_rss_mib']} MiB  {run['cores_busy']} cores busy  load {run['load_1m_before']}"
        line += f"  {run['ratio_vs_baseline']}x baseline" if run.get("ratio_vs_baseline") else ""
        print(line + ("  FAILED: " + run["error"].strip().splitlines()[-1] if "error" in run else ""))
    print(f"ingest S3 2 workers / 1 worker (seconds): {ingest['ratio_s3_2_over_1_worker_seconds']}x")
    print(f"ingest S3 1 worker / local 1 worker (seconds): {ingest['ratio_s3_1_worker_over_local_seconds']}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows over all the deliveries")
    parser.add_argument("--files", type=int, default=8, help="CSV deliveries")
    args = parser.parse_args()
    began = time.perf_counter()
    landing = make_landing(args.rows, args.files)
    results: dict = {"rows": args.rows, "files": args.files, "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    results["landing_seconds"] = round(time.perf_counter() - began, 1)
    scratch = fresh(WORK / "services")
    lines: list[str] = []

    def report(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    started = time.perf_counter()
    with running_services(scratch, report=report) as services:
        results["services_up_seconds"] = round(time.perf_counter() - started, 2)
        pids = services.pids()
        service_cpu = {name: tree_cpu(pid) for name, pid in pids.items()}
        try:
            results["ingest"] = ingests(services, landing, args.rows)
            results["build"] = builds(services)
        finally:
            results["services_cpu_seconds"] = {n: round(tree_cpu(p) - service_cpu[n], 1) for n, p in pids.items()}
            stopping = time.perf_counter()
    results["services_down_seconds"] = round(time.perf_counter() - stopping, 2)
    results["services_start"] = service_times(lines, r".*: up in")
    results["services_stop"] = service_times(lines, r"stopped \(pid \d+\) in")
    results["services_left"] = [p for p in pids.values() if Path(f"/proc/{p}").exists()]
    runs = [run for part in ("ingest", "build") for run in results[part].values() if isinstance(run, dict)]
    if not any("error" in run for run in runs):  # else the stored objects stay, to look into
        shutil.rmtree(scratch / "seaweedfs", ignore_errors=True)
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    (OUT / "scaleout.json").write_text(json.dumps(results, indent=2))
    summarise(results)
    print(f"\nresults: {OUT / 'scaleout.json'}")


if __name__ == "__main__":
    main()
