"""Scheduled operation on a real Prefect server: both ways of deploying, a triggered run, artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SAMPLE_LANDING
from txpipe.ops.prefect_server import stop_process
from txpipe.settings import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.deep]
CLIENT = Path(__file__).parent / "prefect_client.py"
PREFECT = Path(sys.executable).parent / "prefect"
# Prefect 3.9 stores link artifacts with type "markdown".
ARTIFACTS = [
    ["txpipe-dashboard", "markdown"],
    ["txpipe-deliveries", "table"],
    ["txpipe-run-report", "markdown"],
    ["txpipe-validation-report", "markdown"],
    ["txpipe-warehouse", "markdown"],
]


def client(env, *args, timeout=400) -> dict:
    result = subprocess.run(
        [sys.executable, str(CLIENT), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def env(tmp_path, prefect_server):
    return {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "TXPIPE_HOME": str(tmp_path / "home"),
        "TXPIPE_PSEUDONYM_KEY": "scheduling",
        "TXPIPE_REPO": str(REPO_ROOT),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }


def check_published(env) -> None:
    with duckdb.connect(str(Path(env["TXPIPE_HOME"]) / "warehouse" / "txpipe.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM participation").fetchone()[0] > 3000
    html = (Path(env["TXPIPE_HOME"]) / "reports" / "validation.html").read_text()
    assert "jadl_legacy_export.csv" in html
    assert (Path(env["TXPIPE_HOME"]) / "reports" / "dashboard.html").stat().st_size > 500_000


def test_served_deployments_run_on_demand_with_artifacts(env, tmp_path):
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - open for the server's lifetime, closed in finally
    serve = subprocess.Popen(
        [sys.executable, "-m", "txpipe", "serve", "--landing", str(SAMPLE_LANDING)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        nightly = client(env, "wait-deployment", "txpipe-pipeline/nightly")
        weekly = client(env, "wait-deployment", "txpipe-build/weekly-full-rebuild")
        assert nightly["schedules"] == ["0 2 * * *"] and weekly["schedules"] == ["0 4 * * 0"]
        run = client(env, "run", "txpipe-pipeline/nightly", "{}")
        assert run["state"] == "COMPLETED", run["message"] + (tmp_path / "serve.log").read_text()[-3000:]
        assert run["artifacts"] == ARTIFACTS
        assert "## Partner participants" in run["report"] and "## Top quarantine reasons by source" in run["report"]
        check_published(env)
    finally:
        stop_process(serve)
        log.close()
    assert serve.returncode is not None


def test_prefect_yaml_deployments_run_on_a_process_worker(env, tmp_path):
    subprocess.run(
        [str(PREFECT), "work-pool", "create", "txpipe", "--type", "process", "--overwrite"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    deploy = subprocess.run(
        [str(PREFECT), "--no-prompt", "deploy", "--all"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    nightly = client(env, "wait-deployment", "txpipe-pipeline/nightly")
    assert nightly["work_pool"] == "txpipe" and nightly["schedules"] == ["0 2 * * *"]
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - open for the worker's lifetime, closed in finally
    worker = subprocess.Popen(
        [str(PREFECT), "worker", "start", "--pool", "txpipe"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        run = client(env, "run", "txpipe-pipeline/nightly", json.dumps({"landing": str(SAMPLE_LANDING)}))
        assert run["state"] == "COMPLETED", run["message"] + (tmp_path / "worker.log").read_text()[-3000:]
        assert run["artifacts"] == ARTIFACTS
        check_published(env)
        rebuild = client(env, "run", "txpipe-build/weekly-full-rebuild", "{}")
        assert rebuild["state"] == "COMPLETED", rebuild["message"]
    finally:
        stop_process(worker)
        log.close()
