"""The ingest flow under a real (test-harness) Prefect API."""

from __future__ import annotations

from tests.conftest import row, write_csv
from txpipe.store.ledger import Ledger


def test_flow_ingests_each_file_and_commits_the_ledger(settings, landing):
    from flows.ingest import ingest_flow

    write_csv(landing / "nso" / "a.csv", [row(), row(source_record_id="R2", nation="Narnia")])
    write_csv(landing / "jftc" / "b.csv", [row(source_record_id="J1")])
    records = ingest_flow(landing=str(landing)).records
    assert sorted((r.source, r.rows_stored, r.rows_quarantined) for r in records) == [("jftc", 1, 0), ("nso", 1, 1)]
    assert {r.batch_id for r in Ledger.of(settings).records()} == {r.batch_id for r in records}
    assert all(r.run_id == records[0].run_id != "local" for r in records)
    assert ingest_flow(landing=str(landing)).records == []
    reports = list((settings.reports_dir / "runs").glob("ingest-*.json"))
    assert len(reports) == 1


def test_a_crashing_file_fails_the_run_but_not_the_other_files(settings, landing, monkeypatch):
    import flows.ingest as module
    import txpipe.ingest.load as library

    real = library.read_delivery

    def crash_on_b(path, options):
        if path.name == "b.csv":
            raise OSError("simulated: the disk went away")  # about the machine: retried, not recorded
        return real(path, options)

    monkeypatch.setattr(library, "read_delivery", crash_on_b)
    write_csv(landing / "nso" / "a.csv", [row()])
    write_csv(landing / "nso" / "b.csv", [row()])
    state = module.ingest_flow(landing=str(landing), return_state=True)
    assert state.is_failed() and "nso/b.csv" in state.message
    assert [r.source_file for r in Ledger.of(settings).records()] == ["a.csv"]


def test_a_bug_in_a_stage_is_reported_with_file_stage_and_traceback(settings, landing, monkeypatch):
    """It names the file and the stage, keeps the traceback in the log and the run report, withholds the
    exception's message (it may quote a delivered value) and leaves the file for the next run."""
    import json
    import logging

    from flows.ingest import ingest_flow
    from txpipe.ingest.normalise import Normaliser

    real = Normaliser.columns

    def buggy_normalize(self, table):
        ids = [i for i in table["source_record_id"].to_pylist() if i and i.startswith("b-")]
        if ids:  # a failure about the machine (retried), whose message quotes a value
            raise MemoryError(f"cannot allocate near {ids[0]}")
        return real(self, table)

    monkeypatch.setattr(Normaliser, "columns", buggy_normalize)
    write_csv(landing / "nso" / "a.csv", [row()])
    write_csv(landing / "nso" / "b.csv", [row(source_record_id="b-SECRET-VALUE")])
    logged_records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = logged_records.append
    run_logs = [logging.getLogger(f"prefect.{name}_runs") for name in ("flow", "task")]  # they do not propagate
    for log in run_logs:
        log.addHandler(handler)
    try:
        state = ingest_flow(landing=str(landing), return_state=True)
    finally:
        for log in run_logs:
            log.removeHandler(handler)
    assert state.is_failed() and "nso/b.csv (stage normalise)" in state.message
    [report] = (settings.reports_dir / "runs").glob("ingest-*.json")
    document = json.loads(report.read_text())
    [failure] = document["failed"]
    assert (failure["source"], failure["source_file"], failure["stage"], failure["error"]) == (
        "nso",
        "b.csv",
        "normalise",
        "MemoryError",
    )
    assert "buggy_normalize" in failure["traceback"] and "flush" in failure["traceback"]
    logged = "\n".join(logging.Formatter().format(r) for r in logged_records)  # with any traceback Prefect logs
    assert "nso/b.csv failed in stage 'normalise'" in logged and "buggy_normalize" in logged
    assert "SECRET-VALUE" not in report.read_text() + logged + state.message
    assert [r.source_file for r in Ledger.of(settings).records()] == ["a.csv"]
