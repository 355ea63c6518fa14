"""Where an ingest spends its time, stage by stage (wall seconds, in-process, no Prefect).

    TXPIPE_HOME=/tmp/stages .venv/bin/python benchmarks/stages.py benchmarks/out/data/1000000/landing

Wraps the library's stage functions with timers, ingests every new delivery under the landing
root into TXPIPE_HOME (use an empty one), and prints the time per stage. Stages nest (read holds the
flushes it triggers; a flush holds the canonical columns, the pids and the spool writes, beside the
reader's thread; _judge_and_store holds the census, validate and store); the lake files are encoded
on a background thread.
"""

from __future__ import annotations

import collections
import functools
import sys
import time
from pathlib import Path

import txpipe.ingest as ingest
import txpipe.ingest.landing as landing_module
import txpipe.store.lake as lake
from txpipe.ingest import batch, load, normalise, store, workspace
from txpipe.ingest import validate as set_validate
from txpipe.jobs.ingest_job import ingest_new
from txpipe.settings import Settings

SECONDS: collections.Counter = collections.Counter()


def timed(owner, name: str, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SECONDS[label] += time.perf_counter() - started

    setattr(owner, name, wrapper)


def main(landing: Path) -> None:
    timed(batch, "_judge_and_store", "_judge_and_store")
    timed(load, "release_freed_memory", "release_freed_memory")
    timed(load.Loader, "read", "read (each delivery, its flushes included)")
    timed(load.Loader, "flush", "normalise and spool (held chunks, per source)")
    timed(landing_module, "file_sha256", "file_sha256")
    timed(normalise.Normaliser, "columns", "normalise: canonical columns (Arrow)")
    timed(workspace.Workspace, "_pids", "pseudonymise: participant_pid (SQL)")
    timed(workspace.Workspace, "_spool", "spool: chunk to Parquet")
    timed(set_validate, "plan", "validate: plan (distinct counts)")
    timed(set_validate, "run_gx", "validate: GX")
    timed(store.Outcomes, "write", "store: kept and quarantined rows")
    timed(lake.DeliveryFiles, "_write_chunk", "store: lake files (background thread)")
    settings = Settings.from_env()
    started = time.perf_counter()
    context = ingest.IngestContext.create(settings, "stages")
    SECONDS["start: reference, GX suite and context"] = time.perf_counter() - started
    started = time.perf_counter()
    ingest_new(settings, landing, run_id="stages", context=context)  # the flow's job, batches in this process
    print(f"ingest: {time.perf_counter() - started:.2f} s")
    for label, seconds in SECONDS.most_common():
        print(f"  {seconds:6.2f} s  {label}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
