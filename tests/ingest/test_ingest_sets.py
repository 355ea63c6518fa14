"""The set-based ingest's own parts, each against an independent reference:

- participant_pid computed in DuckDB SQL equals the Python HMAC (txpipe.ingest.pseudonym) for any ref;
- every SQL check written from an expectation fails exactly the values GX fails;
- a delivery judged with every rule group on the near-unique path (SQL checks, or GX a slice at a
  time) gives the same lake, quarantine and ledger counts as with the usual path.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import SAMPLE_LANDING, ingest_all, read_parquet_rows
from tests.hypothesis_profiles import examples
from txpipe.ingest import validate as set_validate
from txpipe.ingest.gx_runner import run_gx
from txpipe.ingest.pseudonym import Pseudonymizer
from txpipe.ingest.readers import STRING
from txpipe.ingest.suite import load_suite
from txpipe.ingest.validate import sql_check
from txpipe.ingest.values import CANONICAL_COLUMNS
from txpipe.ingest.workspace import Workspace

REFS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["", " ", "\x1f", "PR-1\x1f", "\x85PR-2\u3000", "\u2028", "a\x00b", "é中😀", " PR-3 "]
)


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory):
    made = {}

    def make(key: str) -> tuple[Workspace, Pseudonymizer]:
        if key not in made:
            made[key] = (Workspace(tmp_path_factory.mktemp("ws"), []), Pseudonymizer(key))
        return made[key]

    yield make
    for workspace, _ in made.values():
        workspace.close()


@hsettings(max_examples=examples(60), deadline=None)
@given(refs=st.lists(st.none() | REFS, max_size=40), key=st.sampled_from(["k", "x" * 64, "long-" * 30, "ключ"]))
def test_sql_pid_equals_python_hmac(workspaces, refs, key):
    workspace, pseudonymizer = workspaces(key)
    parameters = pseudonymizer.sql_parameters("src")
    got = workspace._pids(pa.chunked_array([pa.array(refs, pa.string())]), parameters).to_pylist()
    assert got == [pseudonymizer.pid("src", r) if r is not None and r.strip() else None for r in refs]


# --- SQL checks against GX ------------------------------------------------------------------------

SUITE = load_suite(SAMPLE_LANDING.parents[2] / "expectations")
EXTRA = [  # expectations of kinds the shipped suite does not use on near-unique columns
    {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "provider", "value_set": ["A", "b", "É"]},
        "meta": {"rule": "x_in_set"},
    },
    {
        "type": "expect_column_value_lengths_to_be_between",
        "kwargs": {"column": "activity_title", "min_value": 2, "max_value": 4},
        "meta": {"rule": "x_lengths"},
    },
    {"type": "expect_column_values_to_be_null", "kwargs": {"column": "rank"}, "meta": {"rule": "x_null"}},
    {
        "type": "expect_column_values_to_not_be_null",
        "kwargs": {"column": "provider", "row_condition": 'sex == "F"', "condition_parser": "pandas"},
        "meta": {"rule": "x_conditional"},
    },
]
VALUES = (
    st.none()
    | st.sampled_from(
        [
            "",
            " ",
            "A",
            "b",
            "É",
            "é",
            "1",
            "F",
            "M",
            "GEO",
            "ADL-1",
            "x" * 101,
            "x" * 100,
            "中文",
            "ab",
            "abcd",
            "abcde",
        ]
    )
    | st.text(max_size=6)
)
PARAMETERS = {"nation_codes": ["GEO", "ARM", "é"], "activity_codes": ["ADL-1"], "conflicting_ids": ["A", "1", ""]}


def _translated() -> list[dict]:
    return [
        e
        for e in SUITE.document["expectations"] + EXTRA
        if sql_check(e, {k: f"p_{k}" for k in PARAMETERS}, []) is not None
    ]


def test_the_near_unique_rules_of_the_suite_have_sql_checks():
    names = {e["meta"]["rule"] for e in _translated()}
    assert {
        "source_record_id_missing",
        "source_record_id_too_long",
        "conflicting_duplicate",
        "participant_ref_missing",
    } <= names
    assert {"x_in_set", "x_lengths", "x_null", "x_conditional"} <= names


@hsettings(max_examples=examples(40), deadline=None)
@given(rows=st.lists(st.fixed_dictionaries(dict.fromkeys(CANONICAL_COLUMNS, VALUES)), min_size=1, max_size=25))
def test_sql_checks_fail_the_rows_gx_fails(tmp_path_factory, rows):
    import duckdb

    frame = pd.DataFrame({c: pd.array([r[c] for r in rows], dtype=STRING) for c in CANONICAL_COLUMNS})
    document = {**SUITE.document, "expectations": _translated()}
    suite = type(SUITE)(SUITE.path, SUITE.rules, document)
    expected = run_gx(frame, suite, frozenset(e["meta"]["rule"] for e in document["expectations"]), PARAMETERS)
    con = duckdb.connect()
    # the rows are delivery 3's; a per-delivery parameter holds other deliveries' values too, never theirs
    con.register("c", pa.Table.from_pandas(frame.assign(delivery=3), preserve_index=False))
    for key, values in PARAMETERS.items():
        con.register(f"p_{key}", pa.table({"value": pa.array(values, pa.string())}))
    keyed = PARAMETERS["conflicting_ids"]
    con.register(
        "conflicting_ids",
        pa.table(
            {
                "delivery": pa.array([3] * len(keyed) + [2, 4], pa.int32()),
                "value": pa.array([*keyed, "b", "M"], pa.string()),
            }
        ),
    )
    tables_of = {k: f"p_{k}" for k in PARAMETERS} | set_validate.PER_DELIVERY
    for expectation in document["expectations"]:
        tables: list[pa.Table] = []
        check = sql_check(expectation, tables_of, tables)
        for number, table in enumerate(tables):
            con.register(f"value_set_{number}", table)
        got = [i for (i, failed) in enumerate(r[0] for r in con.execute(f"SELECT {check} FROM c").fetchall()) if failed]
        rule = expectation["meta"]["rule"]
        assert got == sorted(expected[rule].tolist()), (rule, rows)


# --- the near-unique path gives the same outcome ------------------------------------------------------


def _outcome(settings, records) -> tuple:
    lake = sorted(
        (
            r["source_file"],
            r["source_row"],
            json.dumps({k: str(v) for k, v in r.items() if k not in ("ingested_at", "run_id")}),
        )
        for r in read_parquet_rows(settings.participation_dir)
    )
    quarantine = sorted(
        (
            r["source_file"],
            r["source_row"],
            r["reasons"],
            r["offending_values"],
            json.loads(r["record"]) and r["record"],
        )
        for r in read_parquet_rows(settings.quarantine_dir)
    )
    ledger = sorted(
        (
            r.source_file,
            r.rows_read,
            r.rows_stored,
            r.rows_quarantined,
            r.rows_duplicate,
            json.dumps(r.warnings),
            json.dumps(r.quarantine_reasons),
        )
        for r in records
    )
    return lake, quarantine, ledger


@pytest.mark.parametrize("way", ["sql_checks", "gx_slices", "offending_key_by_key"])
def test_near_unique_paths_give_the_same_lake(tmp_path, monkeypatch, way):
    """Also: offending values built key by key (no rule combination known) give the same objects."""
    from txpipe.settings import Settings

    def settings_in(name):
        return Settings.from_env({"TXPIPE_HOME": str(tmp_path / name), "TXPIPE_PSEUDONYM_KEY": "k"})

    usual = settings_in("usual")
    expected = _outcome(usual, ingest_all(usual, SAMPLE_LANDING))
    if way == "offending_key_by_key":
        from txpipe.ingest import store

        monkeypatch.setattr(store, "COMBINATIONS", 0)
    else:
        monkeypatch.setattr(set_validate, "DISTINCT_FLOOR", 0)
        monkeypatch.setattr(set_validate, "DISTINCT_SHARE", 0.0)
    if way == "gx_slices":
        real = set_validate.sql_check

        def per_delivery_only(expectation, *rest):  # every rule GX can judge goes to GX slices
            per_delivery = expectation["kwargs"].get("value_set") == {"$PARAMETER": "conflicting_ids"}
            return real(expectation, *rest) if per_delivery else None

        monkeypatch.setattr(set_validate, "sql_check", per_delivery_only)
        monkeypatch.setattr(set_validate, "GX_SLICE", 997)  # the sample's ~4,000 ids in a few slices
    forced = settings_in(way)
    assert _outcome(forced, ingest_all(forced, SAMPLE_LANDING)) == expected
