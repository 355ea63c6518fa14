"""The development services start, do what the tests rely on, and leave nothing behind.

SeaweedFS's S3 enforces create-only and compare-and-swap writes; the Prefect server is healthy and keeps
its state in PostgreSQL; once the services stop, every process is gone and no port answers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import s3fs

from tests.services_fixture import missing_servers
from txpipe.ops import services_postgres
from txpipe.ops.prefect_server import _alive
from txpipe.ops.services import Services, read_env, running_services, show_env

pytestmark = [pytest.mark.deep, pytest.mark.integration]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, list[str], contextlib.ExitStack]]:
    """The services in a tmp folder, the lines `up` reported, and the stack whose close() stops them."""
    reason = missing_servers()
    if reason:
        pytest.skip(reason)
    lines: list[str] = []
    with contextlib.ExitStack() as stack:
        services = stack.enter_context(running_services(tmp_path_factory.mktemp("services"), report=lines.append))
        yield services, lines, stack


def _s3(services: Services) -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(
        key=services.access_key,
        secret=services.secret_key,
        endpoint_url=services.endpoint,
        client_kwargs={"region_name": services.region},
        skip_instance_cache=True,
        use_listings_cache=False,
    )


def _check_s3(services: Services) -> None:
    fs = _s3(services)
    path = f"{services.store.removeprefix('s3://')}/_probe/{uuid.uuid4().hex}"
    fs.pipe_file(path, b"first", mode="create")
    with pytest.raises(OSError) as refused:  # If-None-Match: *
        fs.pipe_file(path, b"second", mode="create")
    # SeaweedFS 4.48's 412 names no <Condition>, so s3fs raises OSError(EINVAL) where AWS and moto give
    # FileExistsError: either way the write was refused.
    assert refused.type is FileExistsError or "pre-conditions" in str(refused.value)
    assert fs.cat_file(path) == b"first"
    etag = fs.info(path, refresh=True)["ETag"]
    with pytest.raises(OSError):  # If-Match with another ETag
        fs.pipe_file(path, b"lost", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert fs.cat_file(path) == b"first"
    fs.pipe_file(path, b"swapped", IfMatch=etag)
    assert fs.cat_file(path) == b"swapped"


def _psql(url: str, sql: str) -> str:
    psql = [str(services_postgres.bin_dir() / "psql"), "-X", "-tA", url, "-c", sql]
    return subprocess.run(psql, check=True, capture_output=True, text=True, timeout=30).stdout.strip()


def _check_prefect_on_postgres(services: Services) -> None:
    with urllib.request.urlopen(f"{services.prefect_api_url}/health", timeout=10) as response:
        assert response.status == 200
    name = f"services-probe-{uuid.uuid4().hex[:8]}"
    request = urllib.request.Request(
        f"{services.prefect_api_url}/flows/",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)
    prefect_db = services.postgres_url.rsplit("/", 1)[0] + "/prefect"
    assert _psql(prefect_db, "SELECT to_regclass('public.flow_run') IS NOT NULL") == "t"
    assert _psql(prefect_db, f"SELECT count(*) FROM flow WHERE name = '{name}'") == "1"  # the server wrote it
    assert _psql(services.postgres_url, "SELECT current_database()") == "txpipe"


def _refuses(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_services_start_serve_and_leave_nothing_behind(started, capsys):
    services, lines, stack = started
    assert [line.split()[0] for line in lines] == ["seaweedfs", "postgres", "prefect", "env"]
    assert all("up in" in line for line in lines[:3])
    env = services.scratch / "env"
    assert env.stat().st_mode & 0o077 == 0
    assert read_env(services.scratch) == services.environ()
    assert show_env(services.scratch) == 0
    shown = capsys.readouterr().out
    assert services.secret_key not in shown + "\n".join(lines) and services.endpoint in shown
    _check_s3(services)
    _check_prefect_on_postgres(services)
    pids = services.pids()
    assert sorted(pids) == ["postgres", "prefect", "seaweedfs"]
    ports = json.loads((services.scratch / "ports.json").read_text())
    stack.close()  # the context manager stops everything
    assert not any(_alive(pid) for pid in pids.values())
    assert not list(services.scratch.glob("*.pid"))
    assert all(_refuses(port) for port in ports.values()), ports


def test_down_with_nothing_running_exits_0(tmp_path):
    (tmp_path / "seaweedfs.pid").write_text("999999999\n")  # a stale pid file: no such process
    for scratch in (tmp_path, tmp_path / "never-made"):
        done = subprocess.run(
            [sys.executable, "-m", "txpipe.ops.services", "down", "--dir", str(scratch)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    assert not (tmp_path / "seaweedfs.pid").exists()
    assert not Path(tmp_path / "never-made").exists()
