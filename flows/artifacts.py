"""Prefect artifacts for a pipeline run: deliveries table, markdown run report, links to outputs."""

from __future__ import annotations

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from txpipe.jobs.build_job import BuildResult
from txpipe.outputs.reports import run_report_markdown, summary_rows
from txpipe.store.ledger import DeliveryRecord


def publish_run_artifacts(records: list[DeliveryRecord], build: BuildResult) -> None:
    create_table_artifact(
        key="txpipe-deliveries",
        table=summary_rows(records)
        or [
            {
                "source": "",
                "source_file": "(no new deliveries)",
                "status": "",
                "rows_read": 0,
                "rows_stored": 0,
                "rows_quarantined": 0,
                "rows_duplicate": 0,
                "reason": "",
            }
        ],
        description="Deliveries handled by this run: rows read / stored / quarantined / duplicate, status, reason",
    )
    create_markdown_artifact(
        key="txpipe-run-report",
        markdown=run_report_markdown(records, build),
        description="Headline metrics, what changed since the previous publish, quarantine",
    )
    create_link_artifact(
        key="txpipe-warehouse",
        link=build.warehouse.resolve().as_uri(),
        link_text="Published DuckDB warehouse",
        description="Open read-only with DuckDB 1.4+",
    )
    create_link_artifact(
        key="txpipe-dashboard", link=build.dashboard.resolve().as_uri(), link_text="Dashboard (offline HTML)"
    )
    create_link_artifact(
        key="txpipe-validation-report",
        link=build.validation_report.resolve().as_uri(),
        link_text="Validation report (offline HTML)",
    )
