"""Build flow: the library's build job (txpipe.jobs.build_job) under the run lock, as one retried task:
keep the published warehouse when nothing changed, else publish a new one, export the marts, write the pages."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.retries import retry_on_io_error
from flows.runtime import log_recovery, settings_or_environment
from txpipe.jobs.build_job import BuildPlan, BuildResult, build, plan_build
from txpipe.jobs.run_job import exclusive_run
from txpipe.settings import Settings


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=retry_on_io_error)
def build_task(settings: Settings, plan: BuildPlan) -> BuildResult:
    """Every step is atomic (a publish renames a finished file; marts and pages are written whole), so
    an I/O failure is retried from the start."""
    get_run_logger().info(
        "building: %s", "the published warehouse is current" if plan.keep else "publishing from the lake"
    )
    return build(settings, plan)


def log_build(result: BuildResult, settings: Settings) -> None:
    log = get_run_logger()
    if result.skipped:
        log.info("nothing changed since the last publish: warehouse and marts kept")
    else:
        log.info("published %s: %s", result.warehouse, ", ".join(f"{k} {v}" for k, v in result.counts.items()))
        log.info("exported %d mart files to %s", len(result.marts), result.marts_location)


@flow(name="txpipe-build", validate_parameters=False)
def build_flow(full_rebuild: bool = False, wait_for_lock: bool = True, settings: Settings | None = None) -> BuildResult:
    """Publish a new warehouse from the lake and export every metric table to marts/."""
    settings = settings_or_environment(settings)
    log = get_run_logger()
    with exclusive_run(settings, wait_for_lock, log.warning) as recovery:
        log_recovery(recovery, log)
        result = build_task(settings, plan_build(settings, full_rebuild))
    log_build(result, settings)
    return result
