"""The main job: ingest new deliveries, then build and publish the warehouse and marts."""

from __future__ import annotations

from prefect import flow

from flows.build_metrics import build_flow
from flows.ingest import ingest_flow


@flow(name="txpipe-pipeline", validate_parameters=False)
def pipeline_flow(landing: str | None = None, sources: list[str] | None = None) -> dict:
    ingested = ingest_flow(landing=landing, sources=sources, return_state=True)
    built = build_flow()  # what was ingested is published even if one file crashed
    if ingested.is_failed():
        raise RuntimeError(f"ingest did not complete: {ingested.message}")
    return {"deliveries": ingested.result(), "build": built}
