"""Re-runs on unchanged landing change nothing: no new lake files, identical metric tables and marts."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import SAMPLE_LANDING
from txpipe.warehouse import METRIC_TABLES

pytestmark = [pytest.mark.integration, pytest.mark.deep]


def snapshot(home):
    files = {
        p.relative_to(home).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file() and ("lake" in p.parts or "marts" in p.parts)
    }
    with duckdb.connect(str(home / "warehouse" / "txpipe.duckdb"), read_only=True) as con:
        tables = {t: con.execute(f"SELECT * FROM {t}").fetchall() for t in METRIC_TABLES}
    return files, tables


def test_rerun_and_full_rebuild_are_identical(tmp_path, prefect_server):
    home = tmp_path / "home"
    env = {
        **os.environ,
        "TXPIPE_HOME": str(home),
        "PREFECT_API_URL": prefect_server,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "TXPIPE_PSEUDONYM_KEY": "k",
    }

    def run(*extra):
        result = subprocess.run(
            [sys.executable, "-m", "txpipe", "run", "--landing", str(SAMPLE_LANDING), *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    run()
    files, tables = snapshot(home)
    mtimes = {name: (home / name).stat().st_mtime_ns for name in files}
    assert any(name.startswith("marts/") for name in files) and len(tables["metrics_participation"]) > 100

    again = run()
    assert "Nothing new to ingest" in again and "Nothing changed since the last publish" in again
    assert snapshot(home) == (files, tables)
    assert {name: (home / name).stat().st_mtime_ns for name in files} == mtimes  # not even rewritten

    run("--full-rebuild")
    assert snapshot(home) == (files, tables)  # rebuilt from the lake: byte-identical marts
