"""The main job: ingest new deliveries, then build and publish the warehouse and marts."""

from __future__ import annotations

from prefect import flow

from flows.build_metrics import build_flow
from flows.ingest import ingest_flow
from flows.locking import exclusive_run
from txpipe.settings import Settings


@flow(name="txpipe-pipeline", validate_parameters=False)
def pipeline_flow(
    landing: str | None = None,
    sources: list[str] | None = None,
    full_rebuild: bool = False,
    wait_for_lock: bool = True,
) -> dict:
    """Ingest new deliveries, then build and publish (the build is skipped when nothing changed)."""
    with exclusive_run(Settings.from_env(), wait_for_lock):
        ingested = ingest_flow(landing=landing, sources=sources, return_state=True)
        built = build_flow(full_rebuild=full_rebuild)  # what was ingested is published even if a file crashed
    if ingested.is_failed():
        raise RuntimeError(f"ingest did not complete: {ingested.message}")
    return {"deliveries": ingested.result(), "build": built}
