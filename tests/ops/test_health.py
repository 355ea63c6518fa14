"""When a run needs a human: the quarantined share judged per source, with a source's own limit
(``[quarantine] max_share``) where its config sets one, else the run-wide TXPIPE_MAX_QUARANTINE_SHARE."""

from __future__ import annotations

import pytest

from tests.conftest import row, write_csv
from txpipe.ingest.sources import SourceConfigError, parse_source_config
from txpipe.ops.health import run_problems
from txpipe.store.ledger import DeliveryRecord


def record(source: str, read: int, quarantined: int, status: str = "stored") -> DeliveryRecord:
    return DeliveryRecord(
        batch_id="b",
        source=source,
        source_file=f"{source}.csv",
        sha256="0",
        received_at="2026-01-01T00:00:00Z",
        status=status,
        rows_read=read,
        rows_stored=read - quarantined,
        rows_quarantined=quarantined,
    )


def test_without_source_limits_the_run_is_judged_as_before():
    assert run_problems([record("nso", 2, 1)], 0.25) == [
        "1 of 2 rows quarantined (50%), above the 25% threshold (TXPIPE_MAX_QUARANTINE_SHARE)"
    ]
    assert run_problems([record("nso", 2, 1)], 0.5) == []


def test_a_source_within_its_own_limit_does_not_alert():
    records = [record("un-pko", 57_425, 55_000), record("nso", 100, 1)]
    assert run_problems(records, 0.2, {"un-pko": 0.99}) == []


def test_a_source_above_its_own_limit_is_named():
    records = [record("un-pko", 1000, 995), record("nso", 100, 1)]
    assert run_problems(records, 0.2, {"un-pko": 0.99}) == [
        "source un-pko: 995 of 1000 rows quarantined (100%), above its limit of 0.99 ([quarantine] max_share)"
    ]


def test_sources_without_a_limit_are_judged_together_with_the_run_wide_setting():
    records = [record("un-pko", 1000, 990), record("nso", 10, 4), record("ndc", 10, 0)]
    assert run_problems(records, 0.1, {"un-pko": 0.99}) == [
        "4 of 20 rows quarantined (20%), above the 10% threshold (TXPIPE_MAX_QUARANTINE_SHARE)"
    ]


def test_a_limit_of_zero_alerts_on_any_quarantined_row_and_one_never():
    assert run_problems([record("a", 10, 1)], 0.5, {"a": 0}) != []
    assert run_problems([record("a", 10, 10)], 0.0, {"a": 1}) == []


@pytest.mark.parametrize("value", [1.5, -0.1, "0.9", True, float("nan"), float("inf"), [0.5]])
def test_a_max_share_that_is_not_a_number_from_0_to_1_refuses_the_config(value):
    with pytest.raises(SourceConfigError, match=r"\[quarantine\] max_share must be a number from 0 to 1"):
        parse_source_config("x", {"quarantine": {"max_share": value}})


@pytest.mark.parametrize("data", [{"quarantine": {"max_shares": 0.5}}, {"quarantine": 0.5}])
def test_a_misspelt_or_misshapen_quarantine_table_refuses_the_config(data):
    with pytest.raises(SourceConfigError, match=r"\[quarantine\]"):
        parse_source_config("x", data)


def test_max_share_is_read():
    assert parse_source_config("x", {"quarantine": {"max_share": 1}}).max_quarantine_share == 1.0
    assert parse_source_config("x", {}).max_quarantine_share is None


def test_source_limits_reads_the_configs_and_skips_broken_ones(tmp_path):
    from txpipe.ops.health import source_limits

    (tmp_path / "a.toml").write_text("[quarantine]\nmax_share = 0.9\n", encoding="utf-8")
    (tmp_path / "b.toml").write_text("[quarantine]\nmax_share = 9\n", encoding="utf-8")
    assert source_limits(tmp_path, ["a", "b", "c"]) == {"a": 0.9}


def test_a_run_of_a_source_with_its_own_limit_completes(settings, landing, tmp_path, monkeypatch):
    """The run's problems, as the pipeline flow and `txpipe run --strict` see them."""
    from txpipe.jobs.run_job import run_pipeline
    from txpipe.settings import Settings

    configs = tmp_path / "sources"
    configs.mkdir()
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(configs))
    rows = [row(source_record_id=f"R{i}", headcount="0") for i in range(9)] + [row(source_record_id="OK")]
    write_csv(landing / "grid" / "a.csv", rows)
    report = run_pipeline(Settings.from_env(), landing)
    assert report.problems == ("9 of 10 rows quarantined (90%), above the 20% threshold (TXPIPE_MAX_QUARANTINE_SHARE)",)
    (configs / "grid.toml").write_text("[quarantine]\nmax_share = 0.95\n", encoding="utf-8")
    write_csv(landing / "grid" / "b.csv", [row(source_record_id="S1")])
    report = run_pipeline(Settings.from_env(), landing)
    assert report.problems == ()
