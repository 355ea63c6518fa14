"""Validation on distinct values gives GX's verdict on every row, exactly as validating every row does."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import txpipe.ingest.expectations as validation
from txpipe.ingest.expectations import SuiteError, load_suite, plan_groups, validate
from txpipe.ingest.pseudonym import Pseudonymizer
from txpipe.ingest.readers import read_delivery
from txpipe.ingest.sources import load_source_config
from txpipe.ingest.values import delivered_values, normalize, plan_columns, pseudonymise
from txpipe.samples.rosters import generate
from txpipe.settings import Settings


@pytest.fixture(scope="module")
def canonical(tmp_path_factory, reference):
    """A generated e-learning delivery of 4,000 rows with about 20% planted defects, normalised."""
    out = tmp_path_factory.mktemp("generated")
    generate(out, reference, rows=4000, seed=12, defect_rate=0.2, sources=("jadl",), files_per_source=1)
    settings = Settings.from_env()
    config = load_source_config(settings.sources_dir, "jadl")
    delivered = read_delivery(out / "jadl" / "jadl_01.csv", config.read_options())
    plan = plan_columns(delivered.headers, config)
    frames = [delivered_values(batch.frame, plan) for batch in delivered.batches]
    [raw] = frames
    return normalize(pseudonymise(raw, "jadl", Pseudonymizer("test")), config, reference)


# Bad canonical values, each planted on two rows far apart (one rule or more per change).
PLANTED = [
    ("source_record_id", None),
    ("source_record_id", "R" * 101),
    ("activity_title", "T" * 501),
    ("provider", "P" * 201),
    ("programme", None),
    ("programme", "seminar"),
    ("activity_code", None),
    ("activity_code", "N5 35"),
    ("activity_code", "ZZ-NOPE"),
    ("iteration_id", "N5-35"),
    ("start_date", None),
    ("start_date", "2024-02-30"),
    ("end_date", "next week"),
    ("end_date", "1999-01-01"),
    ("delivery_mode", "carrier pigeon"),
    ("nation", None),
    ("nation", "Narnia"),
    ("headcount", "0"),
    ("participant_pid", None),
    ("sex", "Q"),
    ("rank", "General"),
    ("role", "spectator"),
    ("status", None),
    ("status", "graduated"),
    ("score", "101"),
]


def planted(frame):
    frame = frame.copy()
    for i, (column, value) in enumerate(PLANTED):
        for position in (7 + 31 * i, len(frame) - 7 - 31 * i):
            frame.iloc[position, frame.columns.get_loc(column)] = value
            if column == "participant_pid":
                frame.iloc[position, frame.columns.get_loc("headcount")] = "1"
    return frame


def parameters(reference, conflicting=()):
    return {
        "nation_codes": list(reference.nation_codes),
        "activity_codes": list(reference.activity_codes),
        "conflicting_ids": list(conflicting),
    }


def test_distinct_values_give_the_same_verdict_as_every_row(canonical, reference, monkeypatch):
    suite = load_suite(Settings.from_env().expectations_dir)
    canonical = planted(canonical)
    conflicting = canonical["source_record_id"].dropna().iloc[[5, 50]].tolist()
    distinct, whole = plan_groups(canonical.reset_index(drop=True), suite)
    assert distinct and whole  # both paths are exercised: low-cardinality columns and near-unique ones
    assert "source_record_id" in {c for g in whole for c in g.values.columns}

    fast = validate(canonical, suite, parameters(reference, conflicting))
    monkeypatch.setattr(validation, "DISTINCT_SHARE", 0.0)  # every rule on every row: plain GX
    assert plan_groups(canonical.reset_index(drop=True), suite)[0] == []
    every_row = validate(canonical, suite, parameters(reference, conflicting))

    assert set(fast.failures) == set(every_row.failures) == set(suite.rule_names)
    for name in suite.rule_names:
        assert np.array_equal(np.sort(fast.failures[name]), np.sort(every_row.failures[name])), name
    broken = {name for name, rows in every_row.failures.items() if len(rows)}
    assert len(broken) >= 24, broken  # the comparison covers many rules, not an all-pass frame
    assert len(every_row.failures["conflicting_duplicate"]) >= 2


def test_a_row_failure_maps_back_to_every_row_holding_the_value(canonical, reference):
    suite = load_suite(Settings.from_env().expectations_dir)
    frame = canonical.copy()
    frame.iloc[[10, 1000, 3000], frame.columns.get_loc("delivery_mode")] = "carrier pigeon"
    verdict = validate(frame, suite, parameters(reference))
    assert {10, 1000, 3000} <= set(verdict.failures["delivery_mode_invalid"].tolist())
    assert (frame["delivery_mode"].iloc[verdict.failures["delivery_mode_invalid"]] != "resident").all()


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


def test_long_chunks_take_the_sampled_look_and_keep_the_verdict(canonical, reference, monkeypatch):
    """Past 80,000 rows, near-unique columns are spotted on a sample; the verdict is still GX's on every row."""
    suite = load_suite(Settings.from_env().expectations_dir)
    copies = []
    for n in range(25):
        copy = planted(canonical).reset_index(drop=True)
        copy["source_record_id"] = copy["source_record_id"] + f"-{n}"
        copies.append(copy)
    frame = pd.concat(copies, ignore_index=True)
    assert len(frame) >= 4 * validation._SAMPLE_ROWS
    distinct, whole = plan_groups(frame, suite)
    assert "source_record_id" in {c for g in whole for c in g.values.columns}
    assert "delivery_mode" in {c for g in distinct for c in g.values.columns}
    fast = validate(frame, suite, parameters(reference))
    monkeypatch.setattr(validation, "DISTINCT_SHARE", 0.0)
    every_row = validate(frame, suite, parameters(reference))
    for name in suite.rule_names:
        assert np.array_equal(np.sort(fast.failures[name]), np.sort(every_row.failures[name])), name


def test_gx_batches_are_not_hashed_in_full():
    """The GX function that hashed every value of every batch is replaced (a GX upgrade that moves it fails here)."""
    from great_expectations.execution_engine import pandas_execution_engine

    validation.prepare_validation()
    frame = pd.DataFrame({"a": ["x", "y"]})
    assert pandas_execution_engine.hash_pandas_dataframe(frame).startswith("txpipe-chunk-")
