"""Ingest on a Prefect work pool, past one machine: a plan flow and the ingest flow its items run as.

- :func:`plan_flow` lists the landing, drops what the ledger holds, and submits one ``ingest-deliveries``
  run per work item (txpipe.jobs.plan_job: one large delivery, or a group of small ones) with the item's
  key as the idempotency key; the pool's workers take them in parallel. When every item has ended it runs
  the ``build`` deployment, whose concurrency limit of 1 makes the build single-writer (the compare-and-swap
  of the build's pointer is the real guard, txpipe.warehouse.publish).
- :func:`ingest_deliveries_flow` ingests the files of one item, with no run lock: workers on other hosts
  share only the store, whose create-only ledger commit keeps each delivery exactly once (a worker that
  loses removes its own files). It needs a shared store (TXPIPE_STORE) and a landing every worker sees.

The deployments, the pool and the worker commands are in prefect.yaml and the README ("Scale-out").
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from flows.ingest import as_tasks, log_ingest, log_outcome, run_id
from flows.runtime import settings_or_environment
from txpipe.jobs.ingest_job import IngestRun, ingest_new
from txpipe.jobs.plan_job import WorkItem, plan_work
from txpipe.settings import Settings
from txpipe.text import printable

INGEST_DEPLOYMENT = "txpipe-ingest-deliveries/ingest-deliveries"
BUILD_DEPLOYMENT = "txpipe-build/build"
POLL_SECONDS = 2.0


@flow(name="txpipe-ingest-deliveries", validate_parameters=False)
def ingest_deliveries_flow(landing: str, files: list[str], settings: Settings | None = None) -> dict[str, int]:
    """Ingest the deliveries of one work item (``source/path`` each) under ``landing``."""
    settings = settings_or_environment(settings)
    log = get_run_logger()
    run: IngestRun = ingest_new(
        settings, landing, None, run_id(), run_batches=as_tasks(settings.workers), on_outcome=log_outcome, files=files
    )
    log_ingest(run, log)
    if run.already_committed:
        log.info("%d deliveries were committed by another worker first: theirs count", len(run.already_committed))
    if failure := run.failure():
        raise RuntimeError(printable(failure))
    return {"committed": len(run.records), "already_committed": len(run.already_committed)}


def _submit(item: WorkItem, landing: str, deployment: str) -> FlowRun:
    """The item's run: a new one, or the one its key already names unless that one ended without success
    (then a new one, keyed after it)."""
    parameters = {"landing": landing, "files": list(item.files)}
    run = run_deployment(deployment, parameters=parameters, timeout=0, idempotency_key=item.key, as_subflow=False)
    state = run.state
    if state is not None and state.is_final() and not state.is_completed():
        key = f"{item.key}-after-{run.id}"
        run = run_deployment(deployment, parameters=parameters, timeout=0, idempotency_key=key, as_subflow=False)
    return run


def _wait(runs: list[FlowRun]) -> dict[str, int]:
    """Wait until every run has ended; how many ended in each state."""
    pending = {run.id for run in runs}
    ended: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        while pending:
            for flow_run_id in list(pending):
                state = client.read_flow_run(flow_run_id).state
                if state is not None and state.is_final():
                    pending.discard(flow_run_id)
                    ended[state.type.value] = ended.get(state.type.value, 0) + 1
            if pending:
                time.sleep(POLL_SECONDS)
    return ended


@flow(name="txpipe-plan", validate_parameters=False)
def plan_flow(
    landing: str | None = None,
    sources: list[str] | None = None,
    files_per_item: int | None = None,
    build: bool = True,
    ingest_deployment: str = INGEST_DEPLOYMENT,
    build_deployment: str = BUILD_DEPLOYMENT,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Submit one ingest run per work item of ``landing`` to the pool, wait for them, then run the build."""
    settings = settings_or_environment(settings)
    log = get_run_logger()
    root = str(landing or settings.landing)
    items = plan_work(settings, root, sources, files_per_item)
    log.info("%d work items (%d deliveries) under %s", len(items), sum(len(i.files) for i in items), root)
    runs = [_submit(item, root, ingest_deployment) for item in items]
    ended = _wait(runs)
    log.info("ingest runs ended: %s", ", ".join(f"{n} {state.lower()}" for state, n in sorted(ended.items())))
    summary: dict[str, Any] = {"items": len(items), "ingest_runs": ended, "flow_runs": [str(r.id) for r in runs]}
    if build:
        built = run_deployment(build_deployment, timeout=None, as_subflow=False)
        summary["build"] = built.state.type.value if built.state else "UNKNOWN"
    if sum(ended.values()) != ended.get("COMPLETED", 0):
        raise RuntimeError(f"{sum(ended.values()) - ended.get('COMPLETED', 0)} ingest runs did not complete")
    return summary
