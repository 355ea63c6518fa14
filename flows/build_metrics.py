"""Build flow: build and publish the warehouse, then export the marts."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.ingest import _retry_on_io_error
from txpipe.marts import export_marts
from txpipe.settings import Settings
from txpipe.warehouse.publish import publish_warehouse


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=_retry_on_io_error)
def publish(settings: Settings) -> tuple[str, dict[str, int]]:
    path, counts = publish_warehouse(settings)
    return str(path), counts


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=_retry_on_io_error)
def export(warehouse: str, settings: Settings) -> list[str]:
    from pathlib import Path

    return [str(p) for p in export_marts(Path(warehouse), settings.marts_dir)]


@flow(name="txpipe-build", validate_parameters=False)
def build_flow() -> dict:
    """Publish a new warehouse from the lake and export every metric table to marts/."""
    log = get_run_logger()
    settings = Settings.from_env()
    warehouse, counts = publish(settings)
    log.info("published %s: %s", warehouse, ", ".join(f"{k} {v}" for k, v in counts.items()))
    marts = export(warehouse, settings)
    log.info("exported %d mart files to %s", len(marts), settings.marts_dir)
    return {"warehouse": warehouse, "counts": counts, "marts": marts}
