"""Runs the real `txpipe` command line over real public exports, once per test session.

Three stages, each followed by a snapshot of the published warehouse:

1. `txpipe run --landing L` over tests/blackbox/data/landing (World Bank population slices,
   DATASIM's TCCC xAPI export);
2. a fixed subset of the 2021 slice re-delivered under a new file name, `txpipe run` again;
3. `[aliases.nation]` added to one source's config, then `txpipe reprocess --source wbpop-2006`.

Under pytest-xdist the first worker to arrive runs the stages; the others wait on a lock and
read its snapshot (JSON), so the commands run once however many workers there are.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
REPO = HERE.parents[1]
TXPIPE = Path(sys.executable).parent / "txpipe"
KEY = "blackbox-pseudonym-key"
TABLES = ("participation", "quarantine", "deliveries", "metrics_participation", "metrics_partner_coverage")
ALIAS = '\n[aliases.nation]\n"CHI" = "GBR"   # Channel Islands: a mechanism test of reprocess\n'


def _env(home: Path, sources: Path, api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TXPIPE_")}
    env.update(
        TXPIPE_HOME=str(home),
        TXPIPE_SOURCES_DIR=str(sources),
        TXPIPE_PSEUDONYM_KEY=KEY,
        TXPIPE_WORKERS="1",
        PREFECT_API_URL=api_url,
    )
    return env


@contextlib.contextmanager
def _prefect_server(work: Path):
    """One Prefect server for the three commands (README: PREFECT_API_URL names a running
    server), which saves each command its temporary server (about 5 s each on 2 cores); started and
    stopped by the project's own calls, as every test's server is."""
    from tests.conftest import free_port
    from txpipe.ops.prefect_server import start_server, stop_process

    env = {
        **os.environ,
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    with (work / "prefect-server.log").open("wb") as log:
        process, url = start_server(free_port(), env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield url
    finally:
        stop_process(process)


def _txpipe(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [str(TXPIPE), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"txpipe {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _jsonable(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _snapshot(home: Path) -> dict[str, list[dict]]:
    con = duckdb.connect(str(home / "warehouse" / "txpipe.duckdb"), read_only=True)
    try:
        out = {}
        for table in TABLES:
            cur = con.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cur.description]
            out[table] = [{n: _jsonable(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]
        return out
    finally:
        con.close()


def _run_stages(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    with _prefect_server(work) as api_url:
        return _stages(work, api_url)


def _stages(work: Path, api_url: str) -> dict:
    home, landing, sources = work / "home", work / "landing", work / "sources"
    shutil.copytree(DATA / "landing", landing)
    (landing / "datasim-tccc" / "tccc_dev.json").write_bytes(gzip.decompress((DATA / "tccc_dev.json.gz").read_bytes()))
    shutil.copytree(DATA / "sources", sources)
    env = _env(home, sources, api_url)
    stages = {}
    stages["run1_stdout"] = _txpipe(env, "run", "--landing", str(landing))
    stages["run1"] = _snapshot(home)
    shutil.copy(DATA / "redelivery" / "population_2021_fixed.csv", landing / "wbpop-2021")
    stages["run2_stdout"] = _txpipe(env, "run", "--landing", str(landing))
    stages["run2"] = _snapshot(home)
    cfg = sources / "wbpop-2006.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + ALIAS, encoding="utf-8")
    stages["reprocess_stdout"] = _txpipe(env, "reprocess", "--landing", str(landing), "--source", "wbpop-2006")
    stages["reprocess"] = _snapshot(home)
    return stages


@pytest.fixture(scope="session")
def blackbox(tmp_path_factory, worker_id) -> dict:
    """The snapshots of the three stages (shared by every xdist worker)."""
    if worker_id == "master":
        return _run_stages(tmp_path_factory.mktemp("blackbox"))
    root = tmp_path_factory.getbasetemp().parent
    result = root / "blackbox.json"
    with (root / "blackbox.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            result.write_text(json.dumps(_run_stages(root / "blackbox-work")), encoding="utf-8")
    return json.loads(result.read_text(encoding="utf-8"))
