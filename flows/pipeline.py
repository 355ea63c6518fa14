"""The main job's flow: the library's run (txpipe.jobs.run_job.run_pipeline) with its ingest batches and
its build as Prefect tasks, its outcomes logged, its report published as artifacts."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows.artifacts import publish_run_artifacts
from flows.build_metrics import build_task, log_build
from flows.ingest import as_tasks, log_ingest, log_outcome, run_id
from flows.runtime import log_recovery, settings_or_environment
from txpipe.jobs.run_job import Runner, RunReport, run_pipeline
from txpipe.settings import Settings
from txpipe.text import printable


@flow(name="txpipe-pipeline", validate_parameters=False)
def pipeline_flow(
    landing: str | None = None,
    sources: list[str] | None = None,
    full_rebuild: bool = False,
    wait_for_lock: bool = True,
    alert: bool = True,
    max_quarantine_share: float | None = None,
    settings: Settings | None = None,
    reprocess: bool = False,
) -> RunReport:
    """Ingest new deliveries, then build and publish (neither when nothing changed).

    The run ends Failed when a file failed on a bug (it is retried next run; what was ingested is
    published). With ``alert`` it also ends Failed, with the reason as its message, when every
    delivery was rejected or the quarantined share of rows passes ``max_quarantine_share`` (default
    TXPIPE_MAX_QUARANTINE_SHARE or 0.2), so that a Prefect automation can notify on it. With
    ``reprocess`` every held delivery of ``sources`` (all when None) is judged again from the landing.
    """
    settings = settings_or_environment(settings)
    log = get_run_logger()
    runner = Runner(
        run_batches=as_tasks(settings.workers),
        build=build_task,
        on_outcome=log_outcome,
        on_ingested=lambda run: log_ingest(run, log),
        on_wait=log.warning,
    )
    report = run_pipeline(
        settings,
        landing,
        sources,
        full_rebuild,
        wait=wait_for_lock,
        max_quarantine_share=max_quarantine_share,
        run_id=run_id(),
        runner=runner,
        reprocess=reprocess,
    )
    log_recovery(report.recovery, log)
    if report.nothing_to_do:
        log.info("no new or changed file under %s and the warehouse is current: nothing to do", report.ingest.landing)
        log_ingest(report.ingest, log)
    log_build(report.build, settings)
    publish_run_artifacts(report.records, report.build)
    if failure := report.failure():
        raise RuntimeError(f"ingest did not complete: {printable(failure)}")
    if alert and report.problems:
        raise RuntimeError("needs attention: " + "; ".join(report.problems))
    return report
