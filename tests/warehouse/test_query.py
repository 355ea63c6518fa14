"""txpipe query: read-only, no files, no attachments, no extensions, clear refusals."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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


# --- limits the operating system enforces (issue 23): one scalar call ignores DuckDB's own ---------


def query_children() -> set[int]:
    """The processes (running or not yet reaped) whose parent is this test's process."""
    import os

    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:  # it ended meanwhile
            continue
        if int(fields.get("PPid", "0")) == os.getpid():
            found.add(int(status.parent.name))
    return found


@pytest.mark.parametrize(
    "timeout,memory_limit,says",
    [
        (float("inf"), "1GB", "--timeout must be a finite number"),
        (float("nan"), "1GB", "--timeout must be a finite number"),
        (-1, "1GB", "--timeout must be a finite number"),
        (300, "-1", "--memory-limit must be a positive size"),
        (300, "0GB", "--memory-limit must be a positive size"),
        (300, "lots", "--memory-limit must be a positive size"),
        (300, "", "--memory-limit must be a positive size"),
    ],
)
def test_the_library_refuses_a_limit_that_would_lift_the_limit(warehouse, timeout, memory_limit, says):
    from txpipe.warehouse.query import Limits

    before = query_children()
    with pytest.raises(QueryRefused, match=says):
        run_query(warehouse, "SELECT 1", Limits(timeout=timeout, memory_limit=memory_limit))
    assert query_children() == before


def test_limits_that_are_limits_are_taken():
    from txpipe.warehouse.query import OVERHEAD_BYTES, Limits

    assert Limits(timeout=0).timeout == 0 and Limits(timeout=None).timeout is None
    assert Limits(memory_limit="1.5GB").address_space == 1_500_000_000 + OVERHEAD_BYTES
    assert Limits(memory_limit="64 MiB").address_space == 64 * 2**20 + OVERHEAD_BYTES


ONE_SCALAR_CALL = [  # each ran unbounded in one call that DuckDB's memory cap and interrupt do not reach
    "SELECT damerau_levenshtein(repeat('a', 35000), repeat('b', 35000))",  # 9.35 GB in 38.8 s before
    "SELECT length(repeat('a', 2_000_000_000))",
    "SELECT list_sum(range(1_000_000_000))",
]


@pytest.mark.parametrize("sql", ONE_SCALAR_CALL)
def test_one_scalar_call_is_stopped_at_the_memory_limit(warehouse, sql):
    import time

    from txpipe.warehouse.query import Limits

    before, started = query_children(), time.monotonic()
    with pytest.raises(QueryRefused, match=r"^the query was stopped at the memory limit of 100MB \(") as refused:
        run_query(warehouse, sql, Limits(timeout=2, memory_limit="100MB"))
    assert time.monotonic() - started < 15
    assert "\n" not in str(refused.value) and "--memory-limit SIZE raises it" in str(refused.value)
    assert query_children() == before


def test_the_query_process_is_capped_and_killed_when_the_interrupt_does_not_end_it(warehouse):
    """A process that does not answer at the time limit (stopped here, as a scalar call that ignores
    the interrupt would be busy) is killed a grace second later."""
    import os
    import signal
    import time

    from txpipe.warehouse.query import OVERHEAD_BYTES, Limits, open_query

    before, started = query_children(), time.monotonic()
    limits = Limits(timeout=1, memory_limit="200MB")
    with (
        pytest.raises(QueryRefused, match="time limit of 1 s"),
        open_query(warehouse, "SELECT * FROM range(10000000000)", limits) as stream,
    ):
        (child,) = query_children() - before
        caps = Path(f"/proc/{child}/limits").read_text().splitlines()
        assert [line.split()[3:5] for line in caps if line.startswith("Max address space")] == [
            [str(200_000_000 + OVERHEAD_BYTES)] * 2  # soft and hard
        ]
        os.kill(child, signal.SIGSTOP)
        for _ in stream.batches():
            pass
    assert time.monotonic() - started < 1 + 1 + 5
    assert query_children() == before


def test_no_query_process_outlives_its_query(warehouse):
    from txpipe.warehouse.query import open_query

    before = query_children()
    assert run_query(warehouse, "SELECT * FROM range(10000000000)", max_rows=3).truncated  # stopped early
    with pytest.raises(QueryRefused, match="Binder Error"):
        run_query(warehouse, "SELECT nope FROM participation")
    with pytest.raises(KeyError), open_query(warehouse, "SELECT * FROM range(10000000000)") as stream:
        next(stream.batches())
        raise KeyError("the caller fails while the query runs")
    assert query_children() == before


def test_the_query_process_dies_with_its_caller(warehouse, tmp_path):
    import os
    import signal
    import time

    caller = subprocess.Popen(  # its spill folder, which a killed caller cannot remove, in tmp_path
        [sys.executable, "-c", DIES_WITH_CALLER, str(warehouse)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        child = int(caller.stdout.readline())
    finally:
        caller.kill()
        caller.wait()
    for _ in range(100):
        if not Path(f"/proc/{child}").exists() or "\nState:\tZ" in Path(f"/proc/{child}/status").read_text():
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the query process outlived its caller")


DIES_WITH_CALLER = """
import os, sys, time
from pathlib import Path
from txpipe.warehouse.query import open_query
with open_query(Path(sys.argv[1]), "SELECT * FROM range(10000000000)") as stream:
    next(stream.batches())
    children = [p.parent.name for p in Path("/proc").glob("[0-9]*/status")
                if f"\\nPPid:\\t{os.getpid()}\\n" in p.read_text()]
    print(children[0], flush=True)
    time.sleep(60)
"""


def test_values_come_back_as_duckdb_hands_them(warehouse):
    from txpipe.warehouse.query import connect_read_only

    sql = (
        "SELECT 1::HUGEINT AS h, 1.50::DECIMAL(10, 2) AS d, DATE '2024-01-01' AS day, "
        "TIMESTAMP '2024-01-01 01:02:03' AS ts, TIMESTAMPTZ '2024-01-01 01:02:03+02' AS tz, TIME '01:02:03' AS t, "
        "TIMETZ '01:02:03+02' AS ttz, INTERVAL 3 DAY AS i, '0b2e5c1e-3f3c-4a47-9a3a-2e8f3c9b1d7e'::UUID AS u, "
        "'x'::BLOB AS b, [1, 2] AS l, {'a': 1} AS s, MAP {'k': 1} AS m, 'nan'::DOUBLE AS n, NULL AS z, "
        "'\\x1b[31m' AS e"
    )
    with connect_read_only(warehouse) as con:
        expected = con.execute(sql).fetchall()
    result = run_query(warehouse, sql)
    assert result.rows == expected or repr(result.rows) == repr(expected)  # NaN is not equal to itself
    assert [type(v) for v in result.rows[0]] == [type(v) for v in expected[0]]
