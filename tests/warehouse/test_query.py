"""txpipe query: read-only, no files, no attachments, no extensions, clear refusals."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ingest_all, row, write_csv
from txpipe.warehouse.publish import publish_warehouse
from txpipe.warehouse.query import QueryRefused, run_query


@pytest.fixture
def published(settings, landing):
    write_csv(landing / "nso" / "a.csv", [row()])
    ingest_all(settings, landing)
    path, _ = publish_warehouse(settings)
    return path


def test_select_works(published):
    result = run_query(published, "SELECT nation, framework, participants FROM metrics_participation")
    assert result.columns == ["nation", "framework", "participants"] and result.rows == [("GEO", "PFP", 1)]


@pytest.mark.parametrize("sql,message", [
    ("COPY participation TO '/tmp/txpipe-leak.csv'", "COPY statements are not allowed"),
    ("ATTACH '/tmp/txpipe-other.duckdb' AS other", "ATTACH statements are not allowed"),
    ("INSTALL httpfs", "are not allowed"),
    ("LOAD httpfs", "are not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "cannot read or write files"),
    ("SELECT * FROM read_parquet('/tmp/*.parquet')", "cannot read or write files"),
    ("CREATE TABLE t AS SELECT 1", "CREATE statements are not allowed"),
    ("INSERT INTO participation SELECT * FROM participation", "INSERT statements are not allowed"),
    ("DELETE FROM participation", "DELETE statements are not allowed"),
    ("UPDATE participation SET nation = 'X'", "UPDATE statements are not allowed"),
    ("DROP TABLE participation", "DROP statements are not allowed"),
    ("SET enable_external_access = true", "SET statements are not allowed"),
    ("SELECT 1; DELETE FROM participation", "DELETE statements are not allowed"),
])
def test_writes_and_outside_access_are_refused(published, sql, message):
    with pytest.raises(QueryRefused, match=message):
        run_query(published, sql)
    assert run_query(published, "SELECT count(*) FROM participation").rows == [(1,)]


def test_cli_refuses_with_a_clear_message_and_prints_csv_json(published, settings):
    refused = subprocess.run([sys.executable, "-m", "txpipe", "query", "COPY participation TO '/tmp/x.csv'"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "read-only: COPY statements are not allowed" in refused.stderr
    csv_out = subprocess.run([sys.executable, "-m", "txpipe", "query", "SELECT nation, participants FROM metrics_participation",
                              "--format", "csv"], capture_output=True, text=True, timeout=120)
    assert csv_out.stdout == "nation,participants\nGEO,1\n"
    json_out = subprocess.run([sys.executable, "-m", "txpipe", "query", "SELECT nation FROM participation", "--format",
                               "json"], capture_output=True, text=True, timeout=120)
    assert '"nation": "GEO"' in json_out.stdout


def test_no_warehouse_yet(settings):
    with pytest.raises(FileNotFoundError, match="txpipe run"):
        run_query(settings.warehouse_dir / "txpipe.duckdb", "SELECT 1")
