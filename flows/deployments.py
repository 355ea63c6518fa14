"""Scheduled deployments of the pipeline: nightly ingest + publish, weekly full rebuild.

`txpipe serve` serves these from one process (flow.serve, no work pool needed); prefect.yaml
declares the same two for a work pool (`prefect deploy --all`, then a process worker).
"""

from __future__ import annotations

from prefect import serve

from flows.build_metrics import build_flow
from flows.pipeline import pipeline_flow
from txpipe.settings import Settings


def deployments(
    settings: Settings,
    landing: str | None = None,
    sources: list[str] | None = None,
    nightly_cron: str | None = None,
    weekly_cron: str | None = None,
) -> list:
    nightly = pipeline_flow.to_deployment(
        name="nightly",
        cron=nightly_cron or settings.nightly_cron,
        parameters={"landing": landing, "sources": sources, "full_rebuild": False},
        concurrency_limit=1,
        description="Ingest new deliveries, then build and publish the warehouse and marts.",
        tags=["txpipe"],
    )
    weekly = build_flow.to_deployment(
        name="weekly-full-rebuild",
        cron=weekly_cron or settings.weekly_cron,
        parameters={"full_rebuild": True},
        concurrency_limit=1,
        description="Rebuild the warehouse and marts from the whole lake, even if nothing changed.",
        tags=["txpipe"],
    )
    return [nightly, weekly]


def serve_deployments(settings: Settings, **options: str | list[str] | None) -> None:
    """Register the deployments and run their scheduled (and manually triggered) runs until stopped.
    Each scheduled run reads its settings from the environment it runs in."""
    serve(*deployments(settings, **options), limit=1)
