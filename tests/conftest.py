"""Shared fixtures: a TXPIPE_HOME and landing zone in tmp_path, and helpers to ingest them."""

from __future__ import annotations

import csv
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

import tests.hypothesis_profiles  # noqa: F401 (registers and loads the profile of the tier)
from txpipe.ingest import IngestContext
from txpipe.jobs.build_job import BuildResult
from txpipe.jobs.ingest_job import ingest_new
from txpipe.ops.prefect_server import apply_prefect_defaults
from txpipe.reference import load_reference
from txpipe.settings import REPO_ROOT, Settings
from txpipe.store.ledger import DeliveryRecord
from txpipe.warehouse.headline import Headline

# Prefect state never touches the user's home or the repo during tests; the test harness's server
# keeps every service (flow tests read task runs back).
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="txpipe-prefect-")
apply_prefect_defaults(idle_services=False)

SAMPLE_LANDING = REPO_ROOT / "data" / "sample" / "landing"
TEST_KEY = "test-pseudonym-key"

VALID_ROW = {
    "source_record_id": "R1",
    "programme": "education",
    "activity_code": "N5-35",
    "activity_title": "Comprehensive Operations Planning Course",
    "iteration_id": "N5-35-B-24",
    "provider": "NSO",
    "start_date": "2024-03-04",
    "end_date": "2024-03-08",
    "delivery_mode": "resident",
    "nation": "GEO",
    "participant_ref": "P-0001",
    "headcount": "1",
    "sex": "F",
    "rank": "OF-3",
    "role": "student",
    "status": "passed",
    "score": "88.5",
}


# Fixtures of services a test may start: moto's S3 in-process; SeaweedFS, PostgreSQL and Prefect (deep tier).
pytest_plugins = ["tests.store.moto_fixture", "tests.services_fixture"]


@pytest.fixture(scope="session")
def reference():
    return load_reference(REPO_ROOT / "data" / "reference")


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("TXPIPE_HOME", str(home))
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", TEST_KEY)
    return Settings.from_env()


@pytest.fixture
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    root.mkdir()
    return root


def write_csv(path: Path, rows: list[dict], delimiter: str = ",", encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    headers = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers, delimiter=delimiter, lineterminator=newline)
        writer.writeheader()
        writer.writerows(rows)
    return path


def row(**changes) -> dict:
    return {**VALID_ROW, **changes}


def ingest_all(
    settings: Settings, landing: Path, run_id: str = "test-run", context: IngestContext | None = None
) -> list[DeliveryRecord]:
    """Ingest every new delivery with the library's ingest job (the flow's, its groups run in this
    process), committing the ledger; a delivery that failed on a bug fails the test."""
    run = ingest_new(settings, landing, run_id=run_id, context=context)
    if failure := run.failure():
        raise AssertionError(failure)
    return run.records


def kept_build_result(headline: Headline | None = None) -> BuildResult:
    """A build that published nothing (kept), for tests of what reports print."""
    return BuildResult(
        warehouse=Path("warehouse/txpipe.duckdb"),
        counts={},
        marts=(),
        skipped=True,
        headline=headline or Headline(),
        validation_report=Path("reports/validation.html"),
        dashboard=Path("reports/dashboard.html"),
    )


def read_parquet_rows(directory: Path) -> list[dict]:
    import pyarrow.parquet as pq

    rows = []
    for path in sorted(directory.rglob("*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """A real `prefect server start` on a free loopback port; stopped (with all it started) at the end."""
    from txpipe.ops.prefect_server import start_server, stop_process

    home = tmp_path_factory.mktemp("prefect-server")
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_UI_ENABLED": "false",
    }
    with open(home / "server.log", "wb") as log:
        process, url = start_server(free_port(), env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield url
        finally:
            stop_process(process)
