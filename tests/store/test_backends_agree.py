"""The same landing gives the same warehouse on the local store and on an S3-compatible store (moto).

The shipped sample landing (14 deliveries: CSV, Excel, JSON, an xAPI export; defects planted) runs through
the library's whole pipeline twice, once per backend; participation, quarantine, deliveries and every
metric table must hold the same rows (but for when and by which run a row was ingested)."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import TEST_KEY
from txpipe.jobs.run_job import run_pipeline
from txpipe.settings import REPO_ROOT, Settings
from txpipe.store.ledger import Ledger
from txpipe.store.objects import open_store
from txpipe.warehouse import METRIC_TABLES
from txpipe.warehouse.publish import POINTER, published_build, warehouse_path

SAMPLE = REPO_ROOT / "data" / "sample" / "landing"
VARYING = {"ingested_at", "received_at", "run_id", "judged_at"}  # when and by which run: the only columns to differ

pytestmark = pytest.mark.deep


def _rows(path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        columns = [c for c in con.table(table).columns if c not in VARYING]
        listed = ", ".join(f'"{c}"' for c in columns)
        return con.execute(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()


def test_the_sample_landing_gives_identical_tables_on_both_backends(moto_s3, tmp_path):
    common = {"TXPIPE_PSEUDONYM_KEY": TEST_KEY}
    local = Settings.from_env({**common, "TXPIPE_HOME": str(tmp_path / "local")})
    bucket = moto_s3.bucket()
    remote = Settings.from_env(
        {
            **common,
            "TXPIPE_HOME": str(tmp_path / "s3-host"),
            "TXPIPE_STORE": f"s3://{bucket}/txpipe",
            "TXPIPE_S3_ENDPOINT": moto_s3.endpoint,
        }
    )
    for settings in (local, remote):
        report = run_pipeline(settings, SAMPLE, run_id="agree")
        assert report.failure() is None
    # nothing of the lake, the ledger or the publish is under the S3 run's home: only its cache and scratch
    assert not (tmp_path / "s3-host" / "lake").exists()
    store = open_store(remote)
    assert store.exists(POINTER) and len(Ledger(store).names()) == len(Ledger.of(local).names()) == 14
    build = published_build(remote)
    assert build is not None and all(key.startswith("builds/") for key in build.keys.values())
    for table in ("participation", "quarantine", "deliveries", *METRIC_TABLES):
        assert _rows(warehouse_path(local), table) == _rows(warehouse_path(remote), table), table
    assert run_pipeline(remote, SAMPLE, run_id="again").nothing_to_do  # the pointer's fingerprint is current
