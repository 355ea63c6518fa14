"""Issue (7): a file still being written must not be ingested half-way.

A writer thread appends valid rows to a CSV every 5 ms for the whole `txpipe run`. Afterwards the
ledger either does not hold the file (left for the next run, with a message), or records exactly
the size and sha256 of a state the file really had, and the rows of that state match rows_read.
Once the writer has stopped, the next run takes the whole file.
"""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from tests.hostile_world import harness
from tests.hostile_world.payloads import HEADER, csv_row

pytestmark = [pytest.mark.integration, pytest.mark.deep]

INITIAL_ROWS = 40


class Writer(threading.Thread):
    def __init__(self, path, interval=0.005):
        super().__init__(daemon=True)
        self.path = path
        self.interval = interval
        self.stop_event = threading.Event()
        self.n = INITIAL_ROWS
        self.sizes = [path.stat().st_size]  # every size the file had (it only grows)
        self.error = None

    def run(self):
        try:
            while not self.stop_event.is_set():
                self.n += 1
                line = (csv_row(f"G-{self.n:07d}", participant_ref=f"PG-{self.n}") + "\n").encode()
                with open(self.path, "ab") as fh:
                    fh.write(line)  # one write() of one whole line
                self.sizes.append(self.path.stat().st_size)
                time.sleep(self.interval)
        except BaseException as exc:  # pragma: no cover - surfaced by the test
            self.error = exc


def _rows_in(prefix: bytes) -> int:
    lines = [ln for ln in prefix.split(b"\n") if ln.strip()]
    return len(lines) - 1  # minus the header


def _grow_records(home):
    return [r for r in harness.ledger_records(home) if r["source"] == "grow" and r["source_file"] == "roster.csv"]


def test_file_growing_during_the_run(tmp_path, prefect_home):
    landing = tmp_path / "landing"
    path = landing / "grow" / "roster.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        (
            HEADER
            + "\n"
            + "".join(csv_row(f"G-{i:07d}", participant_ref=f"PG-{i}") + "\n" for i in range(1, INITIAL_ROWS + 1))
        ).encode()
    )
    home = tmp_path / "home"
    # small chunks: the read of the growing file spans many reads while the writer appends
    (tmp_path / "sources").mkdir()
    env = harness.base_env(home, prefect_home, tmp_path / "sources", TXPIPE_CHUNK_ROWS="200")

    writer = Writer(path)
    writer.start()
    try:
        time.sleep(0.3)
        first = harness.run_txpipe(["run", "--landing", str(landing)], env, cwd=tmp_path)
    finally:
        writer.stop_event.set()
        writer.join(10)
    assert writer.error is None, writer.error
    final = path.read_bytes()
    total_rows = _rows_in(final)
    assert total_rows > INITIAL_ROWS + 100, f"the writer appended too little ({total_rows}) to test anything"

    assert first.returncode == 0, first.tail()
    reports = harness.run_reports(home)
    for name, rep in reports.items():
        failed = [f for f in rep.get("failed", []) if "roster.csv" in str(f)]
        assert not failed, f"{name}: the growing file crashed instead of being left for the next run: {failed}"

    records = _grow_records(home)
    if not records:
        # branch A: left for the next run, with a message
        assert "roster.csv" in first.text(), "the growing file was left out without a message\n" + first.tail()
    else:
        # branch B: the ledger describes exactly one state the file had, and the rows of that state
        assert len(records) == 1, records
        rec = records[0]
        size, sha = rec["size"], rec["sha256"]
        assert size in writer.sizes, f"ledger size {size} is not a size the file ever had (between two whole lines?)"
        assert hashlib.sha256(final[:size]).hexdigest() == sha, "ledger sha256 is not that of the first size bytes"
        n = _rows_in(final[:size])
        assert rec["status"] == "stored", rec
        assert rec["rows_read"] == n, f"ledger recorded {size} bytes ({n} rows) but rows_read {rec['rows_read']}"
        assert rec["rows_stored"] == n and rec["rows_quarantined"] == 0 and rec["rows_duplicate"] == 0, rec
        lake_rows = sum(
            len(harness.parquet_rows(p)) for p in (home / "lake" / "participation").rglob(f"{rec['batch_id']}.parquet")
        )
        assert lake_rows == n, f"lake holds {lake_rows} rows of a delivery recorded as {n} rows"

    # the writer has stopped: the next run takes the whole file
    time.sleep(1.5)
    second = harness.run_txpipe(["run", "--landing", str(landing)], env, cwd=tmp_path)
    assert second.returncode == 0, second.tail()
    current = [r for r in _grow_records(home) if not r.get("superseded_by")]
    assert len(current) == 1, current
    rec = current[0]
    assert rec["size"] == len(final), (rec["size"], len(final))
    assert rec["sha256"] == hashlib.sha256(final).hexdigest()
    assert rec["status"] == "stored"
    assert (rec["rows_read"], rec["rows_stored"], rec["rows_quarantined"], rec["rows_duplicate"]) == (
        total_rows,
        total_rows,
        0,
        0,
    )

    import duckdb

    with duckdb.connect(str(home / "warehouse" / "txpipe.duckdb"), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT source_record_id FROM participation WHERE source = 'grow'").fetchall()]
    assert sorted(ids) == [f"G-{i:07d}" for i in range(1, total_rows + 1)]
