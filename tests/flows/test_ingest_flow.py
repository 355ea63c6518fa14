"""The ingest flow under a real (test-harness) Prefect API."""

from __future__ import annotations

from tests.conftest import row, write_csv
from txpipe.ledger import Ledger


def test_flow_ingests_each_file_and_commits_the_ledger(settings, landing):
    from flows.ingest import ingest_flow

    write_csv(landing / "nso" / "a.csv", [row(), row(source_record_id="R2", nation="Narnia")])
    write_csv(landing / "jftc" / "b.csv", [row(source_record_id="J1")])
    records = ingest_flow(landing=str(landing))
    assert sorted((r.source, r.rows_stored, r.rows_quarantined) for r in records) == [("jftc", 1, 0), ("nso", 1, 1)]
    assert {r.batch_id for r in Ledger(settings.ledger_dir).records()} == {r.batch_id for r in records}
    assert all(r.run_id == records[0].run_id != "local" for r in records)
    assert ingest_flow(landing=str(landing)) == []
    reports = list((settings.reports_dir / "runs").glob("ingest-*.json"))
    assert len(reports) == 1


def test_a_crashing_file_fails_the_run_but_not_the_other_files(settings, landing, monkeypatch):
    import flows.ingest as module

    real = module.ingest_delivery

    def crash_on_b(delivery, ctx):
        if delivery.source_file == "b.csv":
            raise ValueError("simulated bug")
        return real(delivery, ctx)

    monkeypatch.setattr(module, "ingest_delivery", crash_on_b)
    write_csv(landing / "nso" / "a.csv", [row()])
    write_csv(landing / "nso" / "b.csv", [row()])
    state = module.ingest_flow(landing=str(landing), return_state=True)
    assert state.is_failed() and "nso/b.csv" in state.message
    assert [r.source_file for r in Ledger(settings.ledger_dir).records()] == ["a.csv"]
