"""4 reader processes query the published warehouse in a loop while 10 builds publish."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ingest_all, row, write_csv
from txpipe.warehouse.publish import publish_warehouse

pytestmark = pytest.mark.deep

READER = textwrap.dedent("""
    import json, sys, time, duckdb
    path, stop_file = sys.argv[1], sys.argv[2]
    import os
    errors, seen, queries = [], set(), 0
    while not os.path.exists(stop_file):
        try:
            with duckdb.connect(path, read_only=True) as con:     # a new connection: the newest snapshot
                deliveries = con.execute("SELECT count(*) FROM deliveries").fetchone()[0]
                stored = con.execute("SELECT sum(rows_stored) FROM deliveries WHERE status = 'stored'").fetchone()[0]
                rows = con.execute("SELECT count(*) FROM participation").fetchone()[0]
                metric = con.execute(
                    "SELECT coalesce(sum(participant_events), 0) FROM metrics_participation").fetchone()[0]
                attended = con.execute(
                    "SELECT count(*) FROM participation WHERE is_attended(status)").fetchone()[0]
            if rows != stored or metric != attended:  # parts of two different builds
                errors.append(f"torn snapshot: {deliveries} deliveries, {rows} rows vs {stored} stored")
            seen.add(deliveries)
            queries += 1
        except Exception as error:
            errors.append(repr(error))
    print(json.dumps({"queries": queries, "errors": errors[:5], "error_count": len(errors), "seen": sorted(seen)}))
""")


def test_readers_never_fail_and_see_whole_snapshots(settings, landing, tmp_path):
    write_csv(landing / "nso" / "first.csv", [row()])
    ingest_all(settings, landing)
    path, _ = publish_warehouse(settings)
    script, stop = tmp_path / "reader.py", tmp_path / "stop"
    script.write_text(READER)
    readers = [
        subprocess.Popen([sys.executable, str(script), str(path), str(stop)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    published = {1}
    for n in range(10):
        write_csv(landing / "nso" / f"batch{n}.csv", [row(source_record_id=f"B{n}-{i}") for i in range(n + 1)])
        ingest_all(settings, landing)
        publish_warehouse(settings)
        published.add(n + 2)
    stop.touch()
    results = [json.loads(r.communicate(timeout=60)[0]) for r in readers]
    for result in results:
        assert result["error_count"] == 0, result["errors"]
        assert result["queries"] > 20
        assert set(result["seen"]) <= published
    assert any(len(r["seen"]) > 3 for r in results)  # readers did overlap the publishes
    print(f"\nreaders under load: 4 readers, 10 publishes, {sum(r['queries'] for r in results)} queries, 0 errors")
