"""The suite as loaded and judged: kinds of expectation it refuses, GX's process-wide set-up, and a
rule on a per-delivery parameter that cannot be judged in SQL."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.conftest import row, write_csv
from txpipe.ingest import IngestContext
from txpipe.ingest.batch import ingest_batch
from txpipe.ingest.gx_runner import prepare_validation
from txpipe.ingest.landing import discover
from txpipe.ingest.suite import SuiteError, load_suite
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger


@pytest.mark.parametrize(
    "expectation",
    [
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "score", "min_value": 0, "max_value": 100}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "participant_pid"}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["source_record_id", "nation"]}},
    ],
    ids=["aggregate", "unique", "compound-unique"],
)
def test_a_suite_with_an_expectation_across_rows_is_refused(tmp_path, expectation):
    shutil.copy(Settings.from_env().expectations_dir / "participation.json", tmp_path / "participation.json")
    suite = json.loads((tmp_path / "participation.json").read_text())
    suite["expectations"].append({**expectation, "meta": {"rule": "across_rows"}})
    (tmp_path / "participation.json").write_text(json.dumps(suite))
    with pytest.raises(SuiteError, match=r"across_rows .* does not judge rows one by one"):
        load_suite(tmp_path)


def test_gx_batches_are_not_hashed_in_full():
    """The GX function that hashed every value of every batch is replaced (a GX upgrade that moves it fails here)."""
    from great_expectations.execution_engine import pandas_execution_engine

    prepare_validation()
    frame = pd.DataFrame({"a": ["x", "y"]})
    assert pandas_execution_engine.hash_pandas_dataframe(frame).startswith("txpipe-chunk-")


def test_a_per_delivery_rule_with_no_sql_check_fails_the_batch(settings, landing, monkeypatch, tmp_path):
    """conflicting_duplicate's ids are each delivery's own: GX cannot judge them for a batch, so a suite
    that makes it an expectation txpipe has no SQL for fails the batch (retried), never judges wrongly."""
    suite = json.loads((settings.expectations_dir / "participation.json").read_text())
    for expectation in suite["expectations"]:
        if expectation["meta"]["rule"] == "conflicting_duplicate":
            expectation["type"] = "expect_column_values_to_not_match_regex_list"
            expectation["kwargs"] = {"column": "source_record_id", "regex_list": {"$PARAMETER": "conflicting_ids"}}
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "participation.json").write_text(json.dumps(suite))
    monkeypatch.setenv("TXPIPE_EXPECTATIONS_DIR", str(tmp_path / "suite"))
    settings = Settings.from_env()
    write_csv(landing / "jadl" / "a.csv", [row()])
    write_csv(landing / "jadl" / "b.csv", [row()])
    outcomes = ingest_batch(discover(landing, Ledger.of(settings)), IngestContext.create(settings, "t"))
    assert [(type(o).__name__, o.stage, o.error_type) for o in outcomes] == [
        ("DeliveryFailed", "validate", "SuiteError")
    ] * 2
    assert not settings.lake.exists() or not list(settings.lake.rglob("*.parquet"))
