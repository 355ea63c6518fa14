"""Build flow: build and publish the warehouse, then export the marts (skipped when nothing changed)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.locking import exclusive_run
from flows.retries import retry_on_io_error
from txpipe.outputs.dashboard import dashboard_path, write_dashboard
from txpipe.outputs.marts import export_marts
from txpipe.outputs.validation_report import validation_report_path, write_validation_report
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.warehouse.publish import build_fingerprint, publish_warehouse, published_build, record_build, warehouse_path
from txpipe.warehouse.query import headline


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=retry_on_io_error)
def publish(settings: Settings, extend: bool) -> tuple[str, dict[str, int]]:
    path, counts = publish_warehouse(settings, extend)
    return str(path), counts


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=retry_on_io_error)
def export(warehouse: str, settings: Settings) -> list[str]:
    return [str(p) for p in export_marts(Path(warehouse), settings.marts_dir)]


@task(cache_policy=NO_CACHE)
def dashboard(settings: Settings) -> str:
    return str(write_dashboard(settings))


def kept_build(settings: Settings, previous: dict) -> dict:
    """The build result of a run that publishes nothing: what the last publish recorded."""
    return {
        "warehouse": str(warehouse_path(settings)),
        "counts": previous["counts"],
        "marts": [],
        "skipped": True,
        "headline": previous.get("headline"),
        "validation_report": str(validation_report_path(settings)),
        "dashboard": str(dashboard_path(settings)),
    }


@flow(name="txpipe-build", validate_parameters=False)
def build_flow(full_rebuild: bool = False, wait_for_lock: bool = True) -> dict:
    """Publish a new warehouse from the lake and export every metric table to marts/."""
    log = get_run_logger()
    settings = Settings.from_env()
    with exclusive_run(settings, wait_for_lock):
        fingerprint = build_fingerprint(settings)
        previous = published_build(settings)
        report = str(write_validation_report(settings, Ledger(settings.ledger_dir).records()))
        if not full_rebuild and previous and previous["fingerprint"] == fingerprint:
            log.info("nothing changed since the last publish: warehouse and marts kept")
            return kept_build(settings, previous)
        warehouse, counts = publish(settings, extend=not full_rebuild)
        log.info("published %s: %s", warehouse, ", ".join(f"{k} {v}" for k, v in counts.items()))
        marts = export(warehouse, settings)
        board = dashboard(settings)
        result = headline(Path(warehouse))
        summary = {"columns": result.columns, "rows": [list(r) for r in result.rows]}
        completion = headline(Path(warehouse), "headline_course_completion")
        record_build(settings, fingerprint, counts, [Path(m) for m in marts], summary)
        log.info("exported %d mart files to %s", len(marts), settings.marts_dir)
        return {
            "warehouse": warehouse,
            "counts": counts,
            "marts": marts,
            "skipped": False,
            "headline": summary,
            "course_completion": {"columns": completion.columns, "rows": [list(r) for r in completion.rows]},
            "previous_counts": (previous or {}).get("counts"),
            "previous_headline": (previous or {}).get("headline"),
            "validation_report": report,
            "dashboard": board,
        }
