"""txpipe query: read-only, no files, no attachments, no extensions, clear refusals."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import TEST_KEY, ingest_all, row, write_csv
from txpipe.settings import Settings
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


@pytest.mark.parametrize(
    "sql,message",
    [
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
        ("SET VARIABLE x = 1", "SET statements are not allowed"),
        ("PIVOT (SELECT 1 AS a) ON a", "MULTI statements are not allowed"),
    ],
)
def test_writes_and_outside_access_are_refused(published, sql, message):
    with pytest.raises(QueryRefused, match=message):
        run_query(published, sql)
    assert run_query(published, "SELECT count(*) FROM participation").rows == [(1,)]


def test_cli_refuses_with_a_clear_message_and_prints_csv_json(published, settings):
    refused = subprocess.run(
        [sys.executable, "-m", "txpipe", "query", "COPY participation TO '/tmp/x.csv'"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "read-only: COPY statements are not allowed" in refused.stderr
    csv_out = subprocess.run(
        [
            sys.executable,
            "-m",
            "txpipe",
            "query",
            "SELECT nation, participants FROM metrics_participation",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert csv_out.stdout == "nation,participants\nGEO,1\n"
    json_out = subprocess.run(
        [sys.executable, "-m", "txpipe", "query", "SELECT nation FROM participation", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert '"nation": "GEO"' in json_out.stdout


def test_no_warehouse_yet(settings):
    with pytest.raises(FileNotFoundError, match="txpipe run"):
        run_query(settings.warehouse_dir / "txpipe.duckdb", "SELECT 1")


# --- the sandbox, judged by DuckDB's parser; limits; streaming; one-line refusals ----------------


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """One published warehouse for the tests below, which only read it (writes are refused)."""
    root = tmp_path_factory.mktemp("query")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TXPIPE_HOME", str(root / "home"))
        env.setenv("TXPIPE_PSEUDONYM_KEY", TEST_KEY)
        settings = Settings.from_env()
        write_csv(root / "landing" / "nso" / "a.csv", [row()])
        ingest_all(settings, root / "landing")
        path, _ = publish_warehouse(settings)
    return path


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1",
        "EXPLAIN ANALYZE INSERT INTO participation SELECT * FROM participation",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '{spill}/x.csv'",
        "EXPLAIN ANALYZE COPY participation TO '{spill}/x.csv'",
        "EXPLAIN /* hidden */ ANALYSE -- and here\n COPY (SELECT 1) TO '{spill}/x.csv'",
        "EXPLAIN (ANALYZE) CREATE TEMP TABLE t AS SELECT 1",
        "EXPLAIN (ANALYZE, FORMAT json) COPY (SELECT 1) TO '{spill}/x.csv'",
        "EXPLAIN ANALYZE (FORMAT json) CREATE TEMP TABLE t AS SELECT 1",
        "EXPLAIN ANALYZE WITH x AS (SELECT 1) INSERT INTO participation SELECT * FROM participation",
        "EXPLAIN ANALYZE SET threads = 1",
        "EXPLAIN CREATE TEMP TABLE t AS SELECT 1",
        "SELECT 1; EXPLAIN ANALYZE DELETE FROM participation",
    ],
)
def test_explain_is_judged_by_the_statement_it_wraps(warehouse, sql):
    spill = warehouse.parent / "txpipe.duckdb.tmp"  # DuckDB's default spill folder, which it lets a
    spill.mkdir(exist_ok=True)  # connection write even with external access off
    try:
        with pytest.raises(QueryRefused, match=r"read-only: EXPLAIN of [A-Z]+ statements is not allowed"):
            run_query(warehouse, sql.format(spill=spill))
        assert not (spill / "x.csv").exists()
    finally:
        shutil.rmtree(spill)
    assert run_query(warehouse, "SELECT count(*) FROM participation").rows == [(1,)]


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN SELECT * FROM participation",
        "EXPLAIN ANALYZE SELECT count(*) FROM participation",
        "EXPLAIN /* c */ ANALYZE SELECT 1",
        "EXPLAIN (FORMAT json) SELECT 1",
        "EXPLAIN ANALYZE (SELECT 1)",
        "EXPLAIN (SELECT 1)",
        "EXPLAIN ANALYZE WITH x AS (SELECT 1) SELECT * FROM x",
        "DESCRIBE participation",
        "SUMMARIZE SELECT 1 AS a",
        "FROM metrics_participation",
        "PRAGMA show_tables",
        "CALL pragma_version()",
    ],
)
def test_reading_statements_and_their_explain_run(warehouse, sql):
    assert run_query(warehouse, sql).columns


def test_a_spill_folder_is_private_and_removed(warehouse, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    assert run_query(warehouse, "SELECT current_setting('temp_directory')").rows[0][0].startswith(str(tmp_path / "t"))
    assert list((tmp_path / "t").iterdir()) == []
    assert not (warehouse.parent / "txpipe.duckdb.tmp").exists()


def test_a_long_query_stops_at_the_time_limit(warehouse):
    import time

    from txpipe.warehouse.query import Limits

    started = time.monotonic()
    with pytest.raises(QueryRefused, match="time limit of 1 s"):
        run_query(warehouse, "SELECT count(*) FROM range(1000000000) a, range(1000000000) b", Limits(timeout=1))
    assert time.monotonic() - started < 15


def test_memory_is_capped(warehouse):
    from txpipe.warehouse.query import Limits

    with pytest.raises(QueryRefused, match=r"Out of Memory.*--memory-limit"):
        run_query(warehouse, "SELECT list(range) FROM range(100000000)", Limits(memory_limit="64MB"))


def test_results_are_streamed_not_fetched_whole(warehouse):
    import time

    from txpipe.warehouse.query import open_query

    started = time.monotonic()
    with open_query(warehouse, "SELECT * FROM range(10000000000)") as stream:  # ten billion rows
        first = next(stream.batches())
    assert first[:3] == [(0,), (1,), (2,)] and time.monotonic() - started < 15
    result = run_query(warehouse, "SELECT * FROM range(10000000000)", max_rows=5)
    assert result.rows == [(i,) for i in range(5)] and result.truncated


@pytest.mark.parametrize(
    "sql,message",
    [
        ("SELECT 100000 * 100000", "Out of Range Error"),
        ("SELECT activity_title::INT FROM participation", "Conversion Error"),
        ("SELECT CAST(activity_title AS DATE) FROM participation", "Conversion Error"),
        ("SELECT strptime(activity_title, '%Y') FROM participation", "Invalid Input Error"),
        ("SELECT json_extract(activity_title, '$.a') FROM participation", "Invalid Input Error"),
        ("SELECT activty_title FROM participation", "Binder Error"),
        ("SELECT * FROM participaton", "Catalog Error"),
        ("SELECT error('boom')", "Invalid Input Error: boom"),
    ],
)
def test_every_sql_error_is_one_line_without_data_values(warehouse, sql, message):
    with pytest.raises(QueryRefused, match=message) as refused:
        run_query(warehouse, sql)
    text = str(refused.value)
    assert "\n" not in text and "Comprehensive" not in text  # the delivered activity_title is withheld


def test_a_value_the_user_wrote_is_kept_in_the_message(warehouse):
    with pytest.raises(QueryRefused, match="Could not convert string 'abc' to INT32"):
        run_query(warehouse, "SELECT 'abc'::INT")
