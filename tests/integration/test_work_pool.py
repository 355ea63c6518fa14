"""Scale-out on the project's services: a Prefect server on PostgreSQL, a process work pool with two workers
(each with a home of its own, as on two hosts), the lake on SeaweedFS. The plan deployment splits the sample
landing into work items, both workers ingest them, then the build publishes once; the published warehouse
equals a build of the same landing on the local store."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SAMPLE_LANDING, TEST_KEY
from tests.integration.test_scheduling import PREFECT, client
from tests.store.moto_fixture import seaweedfs_store
from txpipe.jobs.run_job import run_pipeline
from txpipe.ops.prefect_server import stop_process
from txpipe.settings import REPO_ROOT, Settings
from txpipe.store.ledger import Ledger
from txpipe.warehouse import METRIC_TABLES
from txpipe.warehouse.publish import warehouse_path

pytestmark = [pytest.mark.integration, pytest.mark.deep]
VARYING = {"ingested_at", "received_at", "run_id", "judged_at"}


def _rows(path: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        listed = ", ".join(f'"{c}"' for c in con.table(table).columns if c not in VARYING)
        return con.execute(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()


def _worker(env: dict[str, str], home: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [str(PREFECT), "worker", "start", "--pool", "txpipe", "--limit", "2", "--name", home.name],
            env={**env, "TXPIPE_HOME": str(home), "PREFECT_HOME": str(home / "prefect")},
            cwd=home.parent,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_two_workers_ingest_the_planned_items_and_one_build_publishes(services, tmp_path, monkeypatch):
    store, endpoint, credentials = seaweedfs_store(services)
    env = {
        **os.environ,
        **services.environ(),
        **credentials,
        "TXPIPE_STORE": store,
        "TXPIPE_S3_ENDPOINT": endpoint,
        "TXPIPE_PSEUDONYM_KEY": TEST_KEY,
        "TXPIPE_REPO": str(REPO_ROOT),
        "TXPIPE_WORKERS": "1",
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    pool = [str(PREFECT), "work-pool", "create", "txpipe", "--type", "process", "--overwrite"]
    subprocess.run(pool, env=env, check=True, capture_output=True, timeout=120)
    deploy = subprocess.run(
        [str(PREFECT), "--no-prompt", "deploy", "--all"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    homes = [tmp_path / f"worker-{w}" for w in range(2)]
    workers = []
    for home in homes:
        home.mkdir()
        workers.append(_worker(env, home, tmp_path / f"{home.name}.log"))
    try:
        parameters = {"landing": str(SAMPLE_LANDING), "files_per_item": 2}
        run = client(env, "run", "txpipe-plan/plan", json.dumps(parameters), timeout=900)
        logs = "".join((tmp_path / f"{h.name}.log").read_text(errors="replace")[-2000:] for h in homes)
        assert run["state"] == "COMPLETED", str(run["message"]) + logs
    finally:
        for worker in workers:
            stop_process(worker)
    for name, value in {**credentials}.items():
        monkeypatch.setenv(name, value)
    remote = Settings.from_env({**env, "TXPIPE_HOME": str(tmp_path / "reader")})
    records = Ledger.of(remote).records()
    local = Settings.from_env({"TXPIPE_HOME": str(tmp_path / "local"), "TXPIPE_PSEUDONYM_KEY": TEST_KEY})
    assert run_pipeline(local, SAMPLE_LANDING).failure() is None
    statuses = {r.batch_id: r.status for r in Ledger.of(local).records()}
    assert len(records) == 14 and {r.batch_id: r.status for r in records} == statuses  # each once, judged alike
    ran_on = {h.name: sorted(p.name for p in (h / "reports").rglob("*.json")) for h in homes}
    assert all(ran_on.values()), ran_on  # both workers ingested some of the items
    runs = {r.run_id for r in records}
    assert len(runs) >= 6, runs  # at least six ingest runs, over the two workers
    for table in ("participation", "quarantine", *METRIC_TABLES):
        assert _rows(warehouse_path(remote), table) == _rows(warehouse_path(local), table), table
