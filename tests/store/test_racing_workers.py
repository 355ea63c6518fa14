"""Exactly once without a lock: two worker processes, each with a home of its own (as on two hosts), ingest
the same ten deliveries into one S3 store at the same time, each killed before a fifth of its commits (between
a delivery's lake files and its record). Then a clean run. Every delivery must count exactly once, every
delivered row (counted from the file's lines) be stored or quarantined once, no lake file be left that no
record names, and the warehouse equal a build of the same landing on the local store."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import TEST_KEY, row, write_csv
from txpipe.jobs.run_job import run_pipeline
from txpipe.settings import REPO_ROOT, Settings
from txpipe.store.lake import LAKE
from txpipe.store.ledger import Ledger
from txpipe.store.objects import open_store
from txpipe.warehouse import METRIC_TABLES
from txpipe.warehouse.publish import warehouse_path

pytestmark = [pytest.mark.deep, pytest.mark.integration]

DELIVERIES = 10
KILL_SHARE = "0.2"
VARYING = {"ingested_at", "received_at", "run_id", "judged_at"}


@pytest.fixture(scope="module")
def race_landing(tmp_path_factory):
    """Ten CSV deliveries of 30 to 120 rows, every seventh row invalid (an unknown nation)."""
    root = tmp_path_factory.mktemp("race") / "landing"
    for i in range(DELIVERIES):
        rows = [
            row(source_record_id=f"D{i}-R{n}", nation="Narnia" if n % 7 == 3 else "GEO") for n in range(30 + 10 * i)
        ]
        write_csv(root / "nso" / f"delivery-{i:02d}.csv", rows)
    return root


@pytest.fixture(scope="module")
def local_build(race_landing, tmp_path_factory):
    settings = Settings.from_env(
        {"TXPIPE_HOME": str(tmp_path_factory.mktemp("local")), "TXPIPE_PSEUDONYM_KEY": TEST_KEY}
    )
    assert run_pipeline(settings, race_landing, run_id="local").failure() is None
    return warehouse_path(settings)


def _environ(home, s3: tuple[str, str, dict[str, str]], **extra: str) -> dict[str, str]:
    store, endpoint, credentials = s3
    return {
        **os.environ,
        **credentials,
        "TXPIPE_HOME": str(home),
        "TXPIPE_STORE": store,
        "TXPIPE_S3_ENDPOINT": endpoint,
        "TXPIPE_PSEUDONYM_KEY": TEST_KEY,
        "PYTHONPATH": f"{REPO_ROOT / 'src'}:{REPO_ROOT}",
        **extra,
    }


def _race(landing, s3: tuple[str, str, dict[str, str]], tmp_path, seed: int) -> list[int]:
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.store.race_worker", str(landing), f"worker-{w}"],
            cwd=REPO_ROOT,
            env=_environ(
                tmp_path / f"worker-{w}",
                s3,
                TXPIPE_TEST_KILL_SHARE=KILL_SHARE,
                TXPIPE_TEST_SEED=f"{seed}-{w}",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(2)
    ]
    return [worker.wait(timeout=300) for worker in workers]


def _rows(path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        listed = ", ".join(f'"{c}"' for c in con.table(table).columns if c not in VARYING)
        return con.execute(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()


def _check_exactly_once(settings: Settings, landing) -> None:
    store = open_store(settings)
    records = Ledger(store).records()
    counting = Ledger(store).counting()
    assert sorted(f for _, f in counting) == [f"delivery-{i:02d}.csv" for i in range(DELIVERIES)]
    assert [r for r in records if r.status != "stored"] == []  # nothing doubled: one record per delivery
    for (source, name), record in counting.items():
        lines = (landing / source / name).read_bytes().count(b"\n") - 1  # counted from the bytes
        assert record.rows_read == lines == record.rows_stored + record.rows_quarantined
    named = {LAKE + name for record in counting.values() for name in record.files}
    lake = {o.key for o in store.listing(LAKE) if o.key.endswith(".parquet")}
    assert lake == named  # the killed attempts' and the losers' files are gone


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_racing_killed_workers_then_a_clean_run_count_every_delivery_once(
    s3_store, race_landing, local_build, tmp_path, seed, monkeypatch
):
    codes = _race(race_landing, s3_store, tmp_path, seed)
    assert set(codes) <= {0, 137}, codes
    for name, value in s3_store[2].items():  # botocore reads the credentials from this process's environment
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(_environ(tmp_path / "builder", s3_store, TXPIPE_SWEEP_GRACE="0"))
    report = run_pipeline(settings, race_landing, run_id="clean")  # recovery sweeps what no record names
    assert report.failure() is None
    _check_exactly_once(settings, race_landing)
    counting = Ledger.of(settings).counting().values()
    for table in ("participation", "quarantine", *METRIC_TABLES):
        assert _rows(warehouse_path(settings), table) == _rows(local_build, table), table
    assert len(_rows(warehouse_path(settings), "participation")) == sum(r.rows_stored for r in counting)
