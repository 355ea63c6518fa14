"""Runs a Prefect automation can alert on end Failed with the reason; normal runs end Completed."""

from __future__ import annotations

from tests.conftest import row, write_csv


def test_all_deliveries_rejected_fails_the_run(settings, landing):
    from flows.pipeline import pipeline_flow

    write_csv(landing / "nso" / "a.csv", [{k: v for k, v in row().items() if k != "nation"}])
    state = pipeline_flow(landing=str(landing), return_state=True)
    assert state.is_failed() and "needs attention: all 1 deliveries were rejected" in state.message


def test_quarantined_share_above_threshold_fails_the_run(settings, landing):
    from flows.pipeline import pipeline_flow

    write_csv(landing / "nso" / "a.csv", [row(), row(source_record_id="R2", nation="Narnia")])
    state = pipeline_flow(landing=str(landing), max_quarantine_share=0.25, return_state=True)
    assert state.is_failed() and "1 of 2 rows quarantined (50%), above the 25% threshold" in state.message


def test_some_quarantined_rows_still_complete(settings, landing, monkeypatch):
    from flows.pipeline import pipeline_flow

    monkeypatch.setenv("TXPIPE_MAX_QUARANTINE_SHARE", "0.6")
    write_csv(landing / "nso" / "a.csv", [row(), row(source_record_id="R2", nation="Narnia")])
    state = pipeline_flow(landing=str(landing), return_state=True)
    assert state.is_completed(), state.message
    assert (settings.reports_dir / "validation.html").exists()
