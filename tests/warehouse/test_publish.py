"""Publishing: a file DuckDB 1.5 opens, described objects, and readers never disturbed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from tests.conftest import SAMPLE_LANDING, ingest_all, row, write_csv
from txpipe.warehouse.publish import publish_warehouse

CONTRACT_OBJECTS = {
    "participation": [
        "record_key",
        "source",
        "source_record_id",
        "programme",
        "activity_code",
        "activity_title",
        "iteration_id",
        "iteration_id_delivered",  # contract, added 2026-12-07 (canonical iterations)
        "provider",
        "start_date",
        "end_date",
        "delivery_mode",
        "nation",
        "framework",
        "participant_pid",
        "headcount",
        "sex",
        "rank",
        "role",
        "status",
        "score",
        "batch_id",
        "source_file",
        "source_row",
        "ingested_at",
    ],
    "metrics_participation": [
        "year",
        "quarter",
        "nation",
        "framework",
        "programme",
        "participants",
        "individuals",
        "participant_events",
        "activities",
        "person_days",
    ],
    "metrics_outcomes": [
        "year",
        "nation",
        "framework",
        "programme",
        "nominated",
        "registered",
        "cancelled",
        "no_show",
        "attended",
        "completed",
        "passed",
        "failed",
        "withdrawn",
        "attended_total",
        "completion_rate",
        "pass_rate",
        "no_show_rate",
    ],
    "metrics_gender": [
        "year",
        "nation",
        "framework",
        "programme",
        "women",
        "men",
        "other",
        "unknown",
        "women_share",
        "sex_coverage",
    ],
    "metrics_partner_coverage": [
        "year",
        "programme",
        "framework",
        "active_partners",
        "engaged_partners",
        "coverage_rate",
    ],
    "metrics_exercises": [
        "year",
        "activity_code",
        "iteration_id",
        "partner_nations",
        "partner_headcount",
        "training_audience_headcount",
        "observer_headcount",
    ],
    "metrics_fill_rate": ["year", "activity_code", "iteration_id", "seats_offered", "attended", "fill_rate"],
}
# Columns txpipe adds after the contract's own, in this order.
EXTENSIONS = {"participation": ["warnings"]}


def test_duckdb_15_cli_reads_the_published_warehouse(settings):
    ingest_all(settings, SAMPLE_LANDING)
    path, counts = publish_warehouse(settings)
    cli = Path(sys.executable).parent / "duckdb"
    assert cli.exists(), "make test installs the DuckDB 1.5 shell (requirements-test.lock)"
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v1.5")
    out = subprocess.run(
        [
            str(cli),
            "-readonly",
            "-csv",
            str(path),
            "-c",
            "SELECT count(*), sum(participants) FROM metrics_participation",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    n, participants = out.stdout.strip().splitlines()[1].split(",")
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*), sum(participants) FROM metrics_participation").fetchone() == (
            int(n),
            int(participants),
        )
    assert int(n) == counts["metrics_participation"] > 0


def test_contract_objects_and_every_comment(settings):
    ingest_all(settings, SAMPLE_LANDING)
    path, _ = publish_warehouse(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        for table, columns in CONTRACT_OBJECTS.items():
            got = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]
                ).fetchall()
            ]
            assert got == columns + EXTENSIONS.get(table, []), table
        for name in ("nations", "quarantine", "deliveries"):
            assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone() == (1,)
        uncommented_tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND coalesce(comment, '') = ''"
        ).fetchall()
        uncommented_columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal AND coalesce(comment, '') = ''"
        ).fetchall()
    assert uncommented_tables == [] and uncommented_columns == []
    assert not list(settings.warehouse_dir.glob(".build-*"))


def test_empty_lake_publishes_empty_tables(settings):
    path, counts = publish_warehouse(settings)
    assert counts["participation"] == 0 and counts["metrics_participation"] == 0 and counts["nations"] > 0
    assert path.exists()


READER = textwrap.dedent("""
    import sys, time, duckdb
    path, seconds = sys.argv[1], float(sys.argv[2])
    held = duckdb.connect(path, read_only=True)          # kept open across publishes
    print("ready", flush=True)
    deadline, errors, queries, seen = time.time() + seconds, 0, 0, set()
    while time.time() < deadline:
        try:
            held.execute("SELECT sum(participants) FROM metrics_participation").fetchone()
            seen.add(held.execute("SELECT count(*) FROM deliveries").fetchone()[0])
            queries += 1
        except Exception as error:
            errors += 1
            print("ERROR", error, flush=True)
    print("done", queries, errors, sorted(seen), flush=True)
""")


def test_a_reader_keeps_querying_while_new_builds_publish(settings, landing, tmp_path):
    write_csv(landing / "nso" / "a.csv", [row()])
    ingest_all(settings, landing)
    path, _ = publish_warehouse(settings)
    script = tmp_path / "reader.py"
    script.write_text(READER)
    reader = subprocess.Popen([sys.executable, str(script), str(path), "6"], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "ready"
    for n in range(3):
        write_csv(landing / "nso" / f"more{n}.csv", [row(source_record_id=f"M{n}")])
        ingest_all(settings, landing)
        publish_warehouse(settings)
    out, _ = reader.communicate(timeout=60)
    last = out.strip().splitlines()[-1].split(" ", 3)
    assert last[0] == "done" and int(last[2]) == 0, out
    assert int(last[1]) > 10
    assert last[3] == "[1]"  # the open connection keeps its snapshot throughout
    with duckdb.connect(str(path), read_only=True) as fresh:  # a new reader sees the newest publish
        assert fresh.execute("SELECT count(*) FROM deliveries").fetchone() == (4,)
