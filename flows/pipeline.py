"""The main job: ingest new deliveries, then build and publish the warehouse and marts."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.artifacts import publish_run_artifacts
from flows.build_metrics import build_flow
from flows.ingest import ingest_flow_for, warn_about_landing
from flows.locking import exclusive_run
from txpipe.ingest.landing import skipped_entries, stray_files
from txpipe.jobs.build_job import BuildResult, kept_build
from txpipe.jobs.ingest_job import IngestRun, landing_root
from txpipe.jobs.run_job import nothing_to_do
from txpipe.ops.health import run_problems
from txpipe.settings import Settings
from txpipe.store.ledger import DeliveryRecord


@flow(name="txpipe-pipeline", validate_parameters=False)
def pipeline_flow(
    landing: str | None = None,
    sources: list[str] | None = None,
    full_rebuild: bool = False,
    wait_for_lock: bool = True,
    alert: bool = True,
    max_quarantine_share: float | None = None,
    settings: Settings | None = None,
) -> dict[str, list[DeliveryRecord] | BuildResult]:
    """Ingest new deliveries, then build and publish (neither when nothing changed).

    With ``alert`` the run ends Failed, with the reason as its message, when every delivery was
    rejected or the quarantined share of rows passes ``max_quarantine_share`` (default
    TXPIPE_MAX_QUARANTINE_SHARE or 0.2), so that a Prefect automation can notify on it.
    """
    settings = settings or Settings.from_env()
    with exclusive_run(settings, wait_for_lock):
        landing_dir = landing_root(settings, landing)
        previous = nothing_to_do(settings, landing_dir, sources, full_rebuild)
        if previous is not None:
            # Nothing to ingest and nothing to publish: no subflow runs at all (a no-op run stays cheap).
            log = get_run_logger()
            log.info("no new or changed file under %s and the warehouse is current: nothing to do", landing_dir)
            skipped = skipped_entries(landing_dir, sources, settings.sources_dir)
            warn_about_landing(IngestRun(landing_dir, skipped=skipped, strays=stray_files(landing_dir)), log)
            records: list[DeliveryRecord] = []
            built = kept_build(settings, previous)
        else:
            ingest = ingest_flow_for(settings)
            ingested = ingest(landing=landing, sources=sources, settings=settings, return_state=True)
            # what was ingested is published even if a file crashed
            built = build_flow(full_rebuild=full_rebuild, settings=settings)
            if ingested.is_failed():
                raise RuntimeError(f"ingest did not complete: {ingested.message}")
            records = ingested.result()
    publish_run_artifacts(records, built)
    share = settings.max_quarantine_share if max_quarantine_share is None else max_quarantine_share
    problems = run_problems(records, share) if alert else []
    if problems:
        raise RuntimeError("needs attention: " + "; ".join(problems))
    return {"deliveries": records, "build": built}
