"""Issue (9): a published run never fails on printing its summary; data is printed as text.

A small landing of markup only (so no other defect can stop the run first): a header `[/x]`, a
header-less file whose first row starts with `[/x]`, file names holding Rich markup, the emoji code
`:x:`, an ESC sequence and a newline, and a source folder named `[red]:x:`.
"""

from __future__ import annotations

import pytest

from tests.hostile_world import harness
from tests.hostile_world.payloads import build_markup

pytestmark = [pytest.mark.integration, pytest.mark.deep]


@pytest.fixture(scope="module")
def printed(tmp_path_factory, prefect_home):
    root = tmp_path_factory.mktemp("hw-markup")
    landing = root / "landing"
    expected = build_markup(landing)
    (root / "sources").mkdir()
    home = root / "home"
    env = harness.base_env(home, prefect_home, root / "sources")
    result = harness.run_txpipe(["run", "--landing", str(landing)], env, cwd=root)
    return result, home, expected


def test_run_with_markup_data_completes_and_publishes(printed):
    result, home, expected = printed
    assert result.returncode == 0, result.tail()
    assert b"MarkupError" not in result.stdout + result.stderr
    db = home / "warehouse" / "txpipe.duckdb"
    assert db.exists()
    ids = {r["source_record_id"] for r in harness.warehouse_tables(db)["participation"]}
    assert ids == {"M-1", "M-2", "M-3", "M-4", "M-9"}, ids
    got = {(r["source"], r["source_file"]): r["status"] for r in harness.ledger_records(home)}
    assert got == {k: next(iter(e.status)) for k, e in expected.items()}, got


def test_markup_and_emoji_codes_printed_literally(printed):
    result, _, _ = printed
    out = result.stdout.decode("utf-8", "replace")
    for literal in ("[bold]b[red].csv", ":x: smile.csv", "[red]nohead.csv", "[red]:x:"):
        assert literal in out, f"{literal!r} not printed as text\n" + result.tail(3000)
    assert "\u274c" not in out, "':x:' turned into an emoji"


def test_no_raw_control_characters_in_stdout(printed):
    result, _, _ = printed
    assert b"\x1b" not in result.stdout, "raw ESC written to stdout"
    assert b"nl\nbreak.csv" not in result.stdout, "raw newline of a file name written to stdout"
    out = result.stdout.decode("utf-8", "replace")
    assert "red.csv" in out and "break.csv" in out, "files with control characters not shown at all"


def test_no_raw_control_characters_in_stderr(printed):
    result, _, _ = printed
    assert b"\x1b" not in result.stderr, "raw ESC written to stderr (run log)"
    assert b"nl\nbreak.csv" not in result.stderr, "raw newline of a file name written to stderr (run log)"


def test_headerless_markup_row_not_quoted(printed):
    result, home, _ = printed
    rec = {(r["source"], r["source_file"]): r for r in harness.ledger_records(home)}[("markup", "[red]nohead.csv")]
    assert rec["status"] == "rejected"
    assert "[/x]" not in rec["reason"] and "[/bold]" not in rec["reason"], rec["reason"]
    assert "[/x]" not in result.stdout.decode("utf-8", "replace")
