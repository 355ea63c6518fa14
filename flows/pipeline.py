"""The main job: ingest new deliveries, then build and publish the warehouse and marts."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.artifacts import publish_run_artifacts
from flows.build_metrics import build_flow, kept_build
from flows.ingest import ingest_flow, landing_root, warn_about_stray_files
from flows.locking import exclusive_run
from txpipe.ingest.landing import anything_new
from txpipe.ops.health import max_quarantine_share_from_env, run_problems
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.warehouse.publish import current_build


@flow(name="txpipe-pipeline", validate_parameters=False)
def pipeline_flow(
    landing: str | None = None,
    sources: list[str] | None = None,
    full_rebuild: bool = False,
    wait_for_lock: bool = True,
    alert: bool = True,
    max_quarantine_share: float | None = None,
) -> dict:
    """Ingest new deliveries, then build and publish (the build is skipped when nothing changed).

    With ``alert`` the run ends Failed, with the reason as its message, when every delivery was
    rejected or the quarantined share of rows passes ``max_quarantine_share`` (default
    TXPIPE_MAX_QUARANTINE_SHARE or 0.2), so that a Prefect automation can notify on it.
    """
    settings = Settings.from_env()
    with exclusive_run(settings, wait_for_lock):
        landing_dir = landing_root(settings, landing)
        previous = None if full_rebuild else current_build(settings)
        if previous and not anything_new(landing_dir, Ledger(settings.ledger_dir), sources, settings.sources_dir):
            # Nothing to ingest and nothing to publish: no subflow runs at all (a no-op run stays cheap).
            get_run_logger().info(
                "no new or changed file under %s and the warehouse is current: nothing to do", landing_dir
            )
            warn_about_stray_files(landing_dir, settings.sources_dir, sources)
            records, built = [], kept_build(settings, previous)
        else:
            ingested = ingest_flow(landing=landing, sources=sources, return_state=True)
            built = build_flow(full_rebuild=full_rebuild)  # what was ingested is published even if a file crashed
            if ingested.is_failed():
                raise RuntimeError(f"ingest did not complete: {ingested.message}")
            records = ingested.result()
    publish_run_artifacts(records, built)
    share = max_quarantine_share_from_env() if max_quarantine_share is None else max_quarantine_share
    problems = run_problems(records, share) if alert else []
    if problems:
        raise RuntimeError("needs attention: " + "; ".join(problems))
    return {"deliveries": records, "build": built}
