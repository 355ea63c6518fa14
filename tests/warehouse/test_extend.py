"""A publish that extends a copy of the published warehouse gives the warehouse a build from scratch gives.

Random histories of deliveries (new files, re-delivered files that supersede earlier versions,
records that later files replace, rows that are quarantined) are ingested step by step, with a
publish after each step. Which publishes may extend follows the README's rule: every delivery the
published warehouse holds is still stored. After the last step every table must equal, row for
row, the tables of a new warehouse built from the whole lake at once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import TEST_KEY, ingest_all, row, write_csv
from tests.hypothesis_profiles import examples
from txpipe.ingest import IngestContext
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.warehouse import publish as publish_module
from txpipe.warehouse.build import build_warehouse, held_deliveries
from txpipe.warehouse.publish import publish_warehouse

RECORD_IDS = [f"R{n}" for n in range(1, 7)]
STATUSES = ["registered", "attended", "passed", "failed", "no_show"]

a_record = st.tuples(st.sampled_from(RECORD_IDS), st.sampled_from(STATUSES), st.booleans())
a_step = st.tuples(
    st.sampled_from(["nso", "jftc"]),  # source
    st.sampled_from(["a.csv", "b.csv"]),  # file: the same name again supersedes the earlier version
    st.lists(a_record, min_size=1, max_size=5, unique_by=lambda r: r[0]),
)


def write_step(landing: Path, source: str, name: str, records: list, step: int) -> None:
    rows = [
        row(
            source_record_id=rid,
            status=status,
            participant_ref=f"P-{rid}",
            # a malformed activity code quarantines the row; the step number makes every file new
            activity_code="N5-35" if valid else "??",
            score="",
            rank=f"OF-{step % 5 + 1}",
        )
        for rid, status, valid in records
    ]
    write_csv(landing / source / name, rows)


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    names = [
        n
        for (n,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    return {name: sorted(con.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}


@given(steps=st.lists(a_step, min_size=2, max_size=5))
@hypothesis_settings(
    max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_extended_warehouse_equals_a_new_build(steps, monkeypatch):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        monkeypatch.setenv("TXPIPE_HOME", str(root / "home"))
        monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", TEST_KEY)
        settings = Settings.from_env()
        landing = root / "landing"
        context = IngestContext.create(settings, "test-run")
        seen = []
        monkeypatch.setattr(publish_module, "held_deliveries", lambda *a: seen.append(held_deliveries(*a)) or seen[-1])
        for number, (source, name, records) in enumerate(steps):
            stored_before = stored(settings)
            write_step(landing, source, name, records, number)
            ingest_all(settings, landing, context=context)
            publish_warehouse(settings)
            # the rule: extend when the published warehouse holds deliveries that are all still stored
            expected = bool(stored_before) and stored_before <= stored(settings)
            assert (seen[-1] is not None) == expected, (number, stored_before, stored(settings))
        with duckdb.connect(str(settings.warehouse_dir / "txpipe.duckdb"), read_only=True) as con:
            published = table_rows(con)
        fresh = root / "fresh.duckdb"
        build_warehouse(settings, fresh)
        with duckdb.connect(str(fresh), read_only=True) as con:
            built = table_rows(con)
        assert published.keys() == built.keys()
        for table in built:
            assert published[table] == built[table], table


def stored(settings: Settings) -> set[str]:
    return {r.batch_id for r in Ledger.of(settings).records() if r.status == "stored"}


def test_a_changed_reference_or_full_rebuild_builds_from_scratch(settings, landing, monkeypatch):
    write_step(landing, "nso", "a.csv", [("R1", "passed", True)], 0)
    ingest_all(settings, landing)
    publish_warehouse(settings)
    published = settings.warehouse_dir / "txpipe.duckdb"
    records = Ledger.of(settings).records()
    assert held_deliveries(published, settings, records) == {records[0].batch_id}
    seen = []
    monkeypatch.setattr(publish_module, "held_deliveries", lambda *a: seen.append(a) or None)
    publish_warehouse(settings, extend=False)
    assert seen == []  # a full rebuild does not even look
    reference = settings.reference_dir
    copy = settings.home / "reference"
    copy.mkdir()
    for path in reference.glob("*.csv"):
        (copy / path.name).write_bytes(path.read_bytes())
    monkeypatch.setenv("TXPIPE_REFERENCE_DIR", str(copy))
    assert held_deliveries(published, Settings.from_env(), records) is not None  # same bytes: same fingerprint
    with open(copy / "iterations.csv", "a", encoding="utf-8") as handle:
        handle.write("X1-1-A-99,N5-35,2099-01-01,2099-01-02,1\n")
    assert held_deliveries(published, Settings.from_env(), records) is None


@pytest.mark.parametrize("damage", ["missing", "not a database", "older build"])
def test_a_warehouse_that_cannot_be_read_is_not_extended(settings, landing, damage):
    write_step(landing, "nso", "a.csv", [("R1", "passed", True)], 0)
    ingest_all(settings, landing)
    publish_warehouse(settings)
    published = settings.warehouse_dir / "txpipe.duckdb"
    if damage == "missing":
        published.unlink()
    elif damage == "not a database":
        published.write_bytes(b"not a duckdb file")
    else:
        with duckdb.connect(str(published)) as con:
            con.execute("DROP SCHEMA txpipe_build CASCADE")
    assert held_deliveries(published, settings, Ledger.of(settings).records()) is None
    _path, counts = publish_warehouse(settings)
    assert counts["participation"] == 1
