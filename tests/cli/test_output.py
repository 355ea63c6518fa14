"""What the command line prints is text: values from data are never read as Rich markup or emoji,
never reach the terminal as control sequences, and printing never fails a completed run.
`txpipe query` refuses in one line on stderr with status 2, within its limits."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from txpipe import cli
from txpipe.cli import output, runs
from txpipe.cli.output import print_summary
from txpipe.jobs.build_job import BuildResult
from txpipe.jobs.ingest_job import IngestRun
from txpipe.jobs.run_job import RunReport
from txpipe.ops.recovery import Recovery
from txpipe.settings import Settings
from txpipe.store.ledger import DeliveryRecord
from txpipe.warehouse.headline import Headline, PartnerParticipants
from txpipe.warehouse.publish import warehouse_path

HOSTILE = {
    "osc": "\x1b]0;pwned\x07\x1b[31mred",
    "link": "[link=https://evil.example]x[/link]",
    "close": "[/x] [bold]b",
    "emoji": ":x: :thumbs_up:",
    "c1": "a\x9bb\x7fc\x00d",
    "bidi": "\u202eevil\u2066txt\u2069",
    "lines": "line1\nline2\rline3",
}
ESCAPED = {
    "osc": "\\x1b]0;pwned\\x07\\x1b[31mred",
    "link": "[link=https://evil.example]x[/link]",
    "close": "[/x] [bold]b",
    "emoji": ":x: :thumbs_up:",
    "c1": "a\\x9bb\\x7fc\\x00d",
    "bidi": "\\u202eevil\\u2066txt\\u2069",
    "lines": "line1\\nline2\\rline3",
}
RAW = ["\x1b", "\x07", "\x9b", "\x7f", "\x00", "\u202e", "\u2066", "\u2069", "\r", "❌", "👍"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A warehouse file holding hostile values where `txpipe query` looks for it."""
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    path = warehouse_path(Settings.from_env())
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE participation (label VARCHAR, activity_title VARCHAR, score DOUBLE)")
        con.executemany(
            "INSERT INTO participation VALUES (?, ?, ?)", [(k, v, float(i)) for i, (k, v) in enumerate(HOSTILE.items())]
        )
    return tmp_path / "home"


def invoke(*args):
    result = CliRunner().invoke(cli.app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


def refused(result, *fragments):
    """Status 2, ONE line on stderr saying Refused, no traceback, nothing raw."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Refused: "), result.stderr
    assert "Traceback" not in result.stderr and not any(c in result.stderr for c in RAW)
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- values are text ---------------------------------------------------------------------------


def test_table_shows_values_as_escaped_text(home):
    result = invoke("query", "SELECT label, activity_title FROM participation ORDER BY score")
    assert result.exit_code == 0, result.stderr
    assert not any(c in result.stdout for c in RAW), repr(result.stdout)
    for label, shown in ESCAPED.items():
        assert shown in result.stdout, (label, result.stdout)


def test_column_names_are_text_too(home):
    result = invoke("query", 'SELECT 1 AS "[/x]", 2 AS "[link=https://evil.example]y[/link]", 3 AS "\x1b[2J:x:"')
    assert result.exit_code == 0, result.stderr
    assert "[/x]" in result.stdout and "[link=https://evil.example]y[/link]" in result.stdout
    assert "\\x1b[2J:x:" in result.stdout and "\x1b" not in result.stdout


def test_csv_keeps_values_exact(home):
    result = invoke("query", "SELECT label, activity_title FROM participation ORDER BY score", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert list(csv.reader(io.StringIO(result.stdout, newline=""))) == [
        ["label", "activity_title"],
        *map(list, HOSTILE.items()),
    ]


def test_json_is_valid_json_with_nan_and_infinity_as_null(home):
    result = invoke(
        "query",
        "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, ['-inf'::FLOAT, 1.5] AS c, "
        "{'x': 'nan'::DOUBLE} AS d, 2.50::DECIMAL(4,2) AS e, DATE '2024-03-04' AS f, activity_title "
        "FROM participation WHERE label = 'osc'",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    assert json.loads(result.stdout, parse_constant=no_constants) == [
        {
            "a": None,
            "b": None,
            "c": [None, 1.5],
            "d": {"x": None},
            "e": "2.50",
            "f": "2024-03-04",
            "activity_title": HOSTILE["osc"],
        }
    ]
    assert "\x1b" not in result.stdout  # JSON escapes control characters itself


def test_json_streams_an_empty_and_a_multi_row_result(home):
    assert json.loads(invoke("query", "SELECT 1 AS a WHERE false", "--format", "json").stdout) == []
    assert json.loads(invoke("query", "SELECT range AS a FROM range(5000)", "--format", "json").stdout) == [
        {"a": i} for i in range(5000)
    ]


# --- limits --------------------------------------------------------------------------------------


def test_table_is_bounded_by_max_rows_with_a_note(home):
    result = invoke("query", "SELECT * FROM range(10000000000)", "--max-rows", "5")
    assert result.exit_code == 0, result.stderr
    assert "5 row(s) shown" in result.stdout and "│ 4 " in result.stdout and "│ 5 " not in result.stdout
    assert result.stderr.startswith("Truncated: showing the first 5 rows") and len(result.stderr.splitlines()) == 1
    csv_out = invoke("query", "SELECT * FROM range(10000000000)", "--format", "csv", "--max-rows", "3")
    assert csv_out.stdout == "range\n0\n1\n2\n" and csv_out.stderr.startswith("Truncated")
    exact = invoke("query", "SELECT * FROM range(3)", "--format", "csv", "--max-rows", "3")
    assert exact.stdout == "range\n0\n1\n2\n" and exact.stderr == ""


def test_a_million_rows_in_table_format_come_back_bounded_and_fast(home):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "txpipe", "query", "SELECT * FROM range(1000000)"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0 and "1000 row(s) shown" in result.stdout and "Truncated" in result.stderr
    assert time.monotonic() - started < 60


def test_timeout_interrupts_a_huge_cross_join(home):
    started = time.monotonic()
    result = invoke("query", "SELECT count(*) FROM range(1000000000) a, range(1000000000) b", "--timeout", "1")
    refused(result, "time limit of 1 s")
    assert time.monotonic() - started < 15


def test_memory_limit_refuses_in_one_line(home):
    refused(invoke("query", "SELECT list(range) FROM range(100000000)", "--memory-limit", "64MB"), "Out of Memory")
    refused(invoke("query", "SELECT 1", "--memory-limit", "lots"))


# --- refusals: one line, status 2 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql,fragment",
    [
        ("SELECT [/x", "Parser Error"),
        ("SELECT 100000 * 100000", "Out of Range Error"),
        ("SELECT activity_title::INT FROM participation WHERE label = 'osc'", "Conversion Error"),
        ("SELECT 'x[/y]'::INT", "Conversion Error: Could not convert string 'x[/y]'"),
        ("SELECT * FROM read_csv('/etc/passwd')", "cannot read or write files"),
        ("SELECT nope FROM participation", "Binder Error"),
        ("EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1", "EXPLAIN of CREATE"),
        ("EXPLAIN ANALYZE INSERT INTO participation VALUES ('a', 'b', 1)", "EXPLAIN of INSERT"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{spill}/x.csv'", "EXPLAIN of COPY"),
        ("PIVOT (SELECT 1 AS a) ON a", "MULTI statements are not allowed"),
        ("", "the query is empty"),
    ],
)
def test_every_refusal_is_one_line_with_status_2(home, sql, fragment):
    spill = warehouse_path(Settings.from_env()).parent / "txpipe.duckdb.tmp"  # DuckDB's default spill folder
    spill.mkdir()
    line = refused(invoke("query", sql.format(spill=spill)), fragment)
    assert "pwned" not in line  # a data value DuckDB quotes is withheld
    assert not (spill / "x.csv").exists()


def test_no_warehouse_is_a_refusal(tmp_path, monkeypatch):
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "[/x]"))
    refused(invoke("query", "SELECT 1"), "no published warehouse")


# --- the run summary ---------------------------------------------------------------------------------


def hostile_record() -> DeliveryRecord:
    return DeliveryRecord(
        batch_id="b1",
        source="nso",
        source_file="[/x]\x1b]0;pwned\x07.csv",
        sha256="0" * 64,
        received_at="2026-01-01T00:00:00Z",
        status="rejected",
        rows_read=1,
        rows_quarantined=1,
        reason="missing column [/x] [link=https://evil.example]x[/link] :x:",
        ignored_columns=["[/x]", "\x1b[2J", "\u202eevil", ":thumbs_up:"],
        quarantine_reasons={"nation_unknown": 1},
    )


def test_summary_prints_delivered_names_as_text(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "[/x]home"))
    print_summary([hostile_record()], Settings.from_env())
    out = capsys.readouterr().out
    assert not any(c in out for c in RAW), repr(out)
    for shown in (
        "[/x]\\x1b]0;pwned\\x07.csv",
        "[link=https://evil.example]x[/link]",
        ":x:",
        "\\x1b[2J",
        "\\u202eevil",
        ":thumbs_up:",
        "[/x]home",
    ):
        assert shown in out, (shown, out)


@pytest.fixture
def completed_run(tmp_path, monkeypatch):
    """`txpipe run` whose flow completed and published (stubbed: no Prefect, no files)."""
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    hostile = PartnerParticipants(2024, "[/x]\x1b[31m", 1, 0, 0, 1, 1)
    build = BuildResult(
        warehouse=tmp_path / "home" / "warehouse" / "txpipe.duckdb",
        counts={},
        marts=(),
        skipped=False,
        headline=Headline(partners=(hostile,)),
        validation_report=Path("[/x]"),
        dashboard=Path("\x1b[2J"),
    )
    report = RunReport(IngestRun(tmp_path, records=[hostile_record()]), build, False, Recovery(), ())
    state = types.SimpleNamespace(is_failed=lambda: False, result=lambda: report)
    monkeypatch.setitem(sys.modules, "flows.pipeline", types.SimpleNamespace(pipeline_flow=None))
    monkeypatch.setattr(runs, "flow_state", lambda *args, **kwargs: state)
    monkeypatch.setattr(runs, "warmed_up", lambda home: contextlib.nullcontext())  # no server for a stubbed flow
    monkeypatch.setattr(runs, "apply_prefect_defaults", lambda: None)


def test_a_completed_run_prints_markup_in_its_summary_as_text(completed_run, monkeypatch):
    result = invoke("run")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "[link=https://evil.example]x[/link]" in result.stdout and "[/x]\\x1b[31m" in result.stdout
    assert not any(c in result.stdout for c in RAW)


def test_a_completed_run_never_fails_on_printing_its_summary(completed_run, monkeypatch):
    def broken(build):
        raise RuntimeError("a message quoting a value [/x]")

    monkeypatch.setattr(output, "_headline_table", broken)
    result = invoke("run")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "summary could not be printed (RuntimeError)" in result.stderr and "quoting a value" not in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--timeout", "inf", "--timeout must be a finite number"),
        ("--timeout", "nan", "--timeout must be a finite number"),
        ("--timeout", "-1", "--timeout must be a finite number"),
        ("--memory-limit", "-1", "--memory-limit must be a positive size"),
        ("--memory-limit", "0GB", "--memory-limit must be a positive size"),
        ("--memory-limit", "lots", "--memory-limit must be a positive size"),
    ],
)
def test_a_limit_that_would_lift_the_limit_is_refused_in_one_line(tmp_path, monkeypatch, option, value, says):
    """Issue 23: --timeout inf ran unbounded and --memory-limit -1 lifted the spill cap."""
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    refused(invoke("query", "SELECT 1", option, value), says)


@pytest.mark.parametrize("command", ["dashboard", "export"])
@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_partner_is_refused_never_the_all_partner_copy(tmp_path, monkeypatch, command, blank):
    """Issue 23: `txpipe dashboard --partner ''` wrote the full (all-partner) dashboard."""
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    result = invoke(command, "--partner", blank)
    assert result.exit_code == 2 and "--partner needs a nation code" in result.stdout, result.stdout
    assert not (tmp_path / "home" / "reports").exists() and not (tmp_path / "home" / "marts").exists()


# --- limits the operating system enforces (issue 23) ---------------------------------------------------


def query_children() -> set[int]:
    """The processes (running or not yet reaped) whose parent is this test's process."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):  # it ended meanwhile
            if f"\nPPid:\t{os.getpid()}\n" in status.read_text():
                found.add(int(status.parent.name))
    return found


def test_a_normal_query_returns_the_same_rows_in_every_format(home):
    """Rows come back from the query process in batches (5,000 rows: three of them), unchanged."""
    sql = "SELECT range AS n, 'r' || range AS label, range / 2 AS half, NULL AS nothing FROM range(5000)"
    expected = [(str(n), f"r{n}", str(n / 2), "") for n in range(5000)]
    table = invoke("query", sql, "--max-rows", "0")
    assert table.exit_code == 0 and table.stderr == "", table.stderr
    cells = [tuple(c.strip() for c in line.split("│")[1:-1]) for line in table.stdout.splitlines()]
    assert [c for c in cells if c and c[0].isdigit()] == expected and "5000 row(s)\n" in table.stdout
    as_csv = invoke("query", sql, "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["n", "label", "half", "nothing"], *map(list, expected)]
    as_json = json.loads(invoke("query", sql, "--format", "json").stdout)
    assert as_json == [{"n": n, "label": f"r{n}", "half": n / 2, "nothing": None} for n in range(5000)]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT damerau_levenshtein(repeat('a', 35000), repeat('b', 35000))",  # 9.35 GB in 38.8 s before
        "SELECT length(repeat('a', 2_000_000_000))",
    ],
)
def test_one_scalar_call_ends_at_the_memory_limit_in_one_line(home, sql):
    before, started = query_children(), time.monotonic()
    result = invoke("query", sql, "--timeout", "2", "--memory-limit", "100MB")
    refused(result, "Refused: the query was stopped at the memory limit of 100MB (", "--memory-limit SIZE raises it")
    assert time.monotonic() - started < 15 and query_children() == before


def test_a_runaway_ends_at_the_time_limit_in_one_line(home):
    before, started = query_children(), time.monotonic()
    result = invoke("query", "SELECT sum(range) FROM range(10_000_000_000)", "--timeout", "2")
    refused(result, "Refused: the query was stopped at the time limit of 2 s")
    assert time.monotonic() - started < 2 + 1 + 5 and query_children() == before


# The command as a user runs it, watched from a process that takes in any process it leaves behind
# (a child subreaper) and reads the peak resident memory of every process under it. Its address space is
# capped far above what the query may take, so that a regression fails the test, not the host.
WATCH = """
import ctypes, json, os, resource, subprocess, sys, time
from pathlib import Path
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
started = time.monotonic()
run = subprocess.run(sys.argv[2:], capture_output=True, text=True, timeout=120)
seconds = time.monotonic() - started
left = []
for status in Path("/proc").glob("[0-9]*/status"):
    try:
        if f"\\nPPid:\\t{os.getpid()}\\n" in status.read_text():
            left.append(int(status.parent.name))
    except OSError:
        pass
for pid in left:
    os.kill(pid, 9)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"status": run.returncode, "stderr": run.stderr, "seconds": seconds, "peak": peak, "left": left}))
"""


OVERHEAD = 512 * 2**20  # README "Querying": the query process's address space beyond --memory-limit


@pytest.mark.parametrize(
    "sql,timeout,memory_limit,stopped_at",
    [
        ("SELECT damerau_levenshtein(repeat('a', 35000), repeat('b', 35000))", "2", "100MB", "memory limit of 100MB"),
        ("SELECT length(repeat('a', 2_000_000_000))", "2", "100MB", "memory limit of 100MB"),
        ("SELECT list_sum(range(1_000_000_000))", "2", "100MB", "memory limit of 100MB"),
        pytest.param(
            "SELECT sum(range) FROM range(10_000_000_000)", "2", "1GB", "time limit of 2 s", marks=pytest.mark.deep
        ),
        pytest.param(  # room to run past the time limit, deaf to the interrupt: killed a grace second later
            "SELECT damerau_levenshtein(repeat('a', 35000), repeat('b', 35000))",
            "0.5",
            "4GB",
            "time limit of 0.5 s",
            marks=pytest.mark.deep,
        ),
    ],
)
def test_txpipe_query_cannot_take_the_host(home, sql, timeout, memory_limit, stopped_at):
    number, unit = int(memory_limit[:-2]), memory_limit[-2:]
    cap = number * {"MB": 10**6, "GB": 10**9}[unit] + OVERHEAD
    command = [sys.executable, "-m", "txpipe", "query", sql, "--timeout", timeout, "--memory-limit", memory_limit]
    watch = subprocess.run(
        [sys.executable, "-c", WATCH, str(max(4 << 30, 2 * cap)), *command], capture_output=True, text=True, timeout=180
    )
    seen = json.loads(watch.stdout)
    assert seen["status"] == 2 and seen["stderr"].count("\n") == 1, seen
    assert seen["stderr"].startswith(f"Refused: the query was stopped at the {stopped_at} ("), seen
    assert "Traceback" not in seen["stderr"] and seen["left"] == [], seen
    assert seen["peak"] < cap, seen  # the largest process under the command: the query's, within its cap
    assert seen["seconds"] < (15 if "memory" in stopped_at else float(timeout) + 1 + 8), seen


def test_the_documented_overhead_is_the_one_applied():
    from txpipe.warehouse.query import OVERHEAD_BYTES

    assert OVERHEAD_BYTES == OVERHEAD
