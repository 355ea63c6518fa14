"""Scheduled deployments of the pipeline, as ``prefect.yaml`` declares them (the one declaration):
nightly ingest + publish, weekly full rebuild.

`txpipe serve` serves them from one process (flow.serve, no work pool needed), reading prefect.yaml;
`prefect deploy --all` deploys the same file to a work pool (then a process worker runs them).
"""

from __future__ import annotations

from typing import Any

import yaml
from prefect import Flow, serve

from flows.build_metrics import build_flow
from flows.pipeline import pipeline_flow
from txpipe.settings import REPO_ROOT, Settings

DECLARATION = REPO_ROOT / "prefect.yaml"
FLOWS: dict[str, Flow[..., Any]] = {
    "flows/pipeline.py:pipeline_flow": pipeline_flow,
    "flows/build_metrics.py:build_flow": build_flow,
}


def declared() -> list[dict[str, Any]]:
    """The scheduled deployments prefect.yaml declares (the scale-out ones run on a work pool only)."""
    document = yaml.safe_load(DECLARATION.read_text(encoding="utf-8"))
    return [entry for entry in document["deployments"] if entry.get("schedules")]


def deployments(
    settings: Settings,
    landing: str | None = None,
    sources: list[str] | None = None,
    nightly_cron: str | None = None,
    weekly_cron: str | None = None,
) -> list[Any]:
    """The declared deployments for `txpipe serve`: the landing and sources given to it, and a cron
    given to it (or in TXPIPE_NIGHTLY_CRON / TXPIPE_WEEKLY_CRON) in place of the declared one."""
    crons = {
        "nightly": nightly_cron or settings.nightly_cron,
        "weekly-full-rebuild": weekly_cron or settings.weekly_cron,
    }
    made = []
    for entry in declared():
        parameters = dict(entry.get("parameters") or {})
        if "landing" in parameters:
            parameters.update(landing=landing, sources=sources)
        made.append(
            FLOWS[entry["entrypoint"]].to_deployment(
                name=entry["name"],
                cron=crons.get(entry["name"]) or entry["schedules"][0]["cron"],
                parameters=parameters,
                concurrency_limit=entry.get("concurrency_limit"),
                description=entry.get("description"),
                tags=entry.get("tags"),
            )
        )
    return made


def serve_deployments(settings: Settings, **options: str | list[str] | None) -> None:
    """Register the deployments and run their scheduled (and manually triggered) runs until stopped.
    Each scheduled run reads its settings from the environment it runs in."""
    serve(*deployments(settings, **options), limit=1)
