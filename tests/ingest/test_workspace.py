"""A batch's workspace: the spool (no raw participant_ref on disk, deliveries kept apart, a dropped
delivery gone) and the census (exact duplicates and conflicting ids within each delivery, across
chunks, blank ids included)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from tests.conftest import row, write_csv
from txpipe.ingest import IngestContext
from txpipe.ingest.batch import ingest_batch
from txpipe.ingest.census import take_census
from txpipe.ingest.landing import discover
from txpipe.ingest.pseudonym import Pseudonymizer
from txpipe.ingest.readers import RowIssue
from txpipe.ingest.values import CANONICAL_COLUMNS
from txpipe.ingest.workspace import SourceColumns, Workspace, frame_table
from txpipe.schema import LANDING_COLUMNS
from txpipe.store.ledger import Ledger

CANARY_REF = "CANARY-REF-77d0a1"
COLUMNS = SourceColumns((), {}, Pseudonymizer("k").sql_parameters("src"))


def chunk(rows: list[tuple[int, str | None, str]]) -> pa.Table:
    """Delivered values at the given positions: (source_row, source_record_id, status), the rest blank."""
    frame = pd.DataFrame({c: pd.array([None] * len(rows), dtype="string") for c in LANDING_COLUMNS})
    frame["source_record_id"] = pd.array([rid for _, rid, _ in rows], dtype="string")
    frame["status"] = pd.array([status for _, _, status in rows], dtype="string")
    frame.index = pd.Index([r for r, _, _ in rows], name="source_row", dtype="int64")
    return frame_table(frame)


def add(ws: Workspace, delivery: int, rows, issues=()) -> None:
    table = chunk(rows)
    ws.note_chunk(delivery, table, list(issues))
    ws.add(table.add_column(1, "delivery", pa.array([delivery] * table.num_rows, pa.int32())), {}, COLUMNS)


def census(ws: Workspace) -> tuple[dict, dict, dict]:
    ws.finish()
    take_census(ws)
    duplicates = {}
    for delivery, source_row in ws.con.execute("SELECT * FROM duplicates ORDER BY ALL").fetchall():
        duplicates.setdefault(delivery, []).append(source_row)
    conflicting = {}
    for delivery, value in ws.con.execute("SELECT * FROM conflicting_ids ORDER BY ALL").fetchall():
        conflicting.setdefault(delivery, []).append(value)
    read = {d: n + ws.count("issues").get(d, 0) for d, n in ws.count("delivered").items()}
    return read, duplicates, conflicting


def test_duplicates_and_conflicts_are_found_across_chunks_within_each_delivery(tmp_path):
    ws = Workspace(tmp_path / "ws", [])
    issues = [RowIssue(11, "csv_field_count", "expected 17 fields, found 3 (line 11)")]
    add(ws, 0, [(2, "A", "passed"), (3, "B", "passed"), (4, None, "failed"), (5, "C", "passed")])
    add(ws, 0, [(6, "A", "passed"), (7, "B", "failed"), (8, None, "failed"), (9, "A", "passed"), (10, None, "x")])
    add(ws, 0, [], issues)
    # delivery 1 repeats delivery 0's rows: nothing of it is a duplicate or a conflict of delivery 0's
    add(ws, 1, [(2, "A", "passed"), (3, "B", "failed"), (4, "C", "passed")])
    add(ws, 2, [(2, "B", "passed"), (3, "B", "passed")])
    read, duplicates, conflicting = census(ws)
    assert read == {0: 10, 1: 3, 2: 2}  # 9 rows and 1 unreadable record; 3; 2
    assert duplicates == {0: [6, 8, 9], 2: [3]}  # later copies of A and of the blank-id row; the first stays
    assert conflicting == {0: ["B"]}  # B has two contents in 0 only; blank ids are never "conflicting"
    ws.close()


def test_a_dropped_delivery_leaves_nothing_in_the_workspace(tmp_path):
    ws = Workspace(tmp_path / "ws", [])
    add(ws, 0, [(2, "A", "passed")])
    add(ws, 1, [(2, "A", "passed"), (3, "A", "failed")], [RowIssue(4, "csv_field_count", "x")])
    mixed = chunk([(3, "Z", "passed"), (4, "Z", "failed")])  # one spool file holding rows of 0 and 1
    ws.add(mixed.add_column(1, "delivery", pa.array([0, 1], pa.int32())), {}, COLUMNS)
    ws.drop(1)
    add(ws, 2, [(2, "Z", "passed")])
    read, duplicates, conflicting = census(ws)
    assert read == {0: 2, 2: 1} and duplicates == {} and conflicting == {}
    assert ws.count("issues") == {}
    ws.close()


def test_a_batch_with_no_row_has_the_columns_of_one(tmp_path):
    ws = Workspace(tmp_path / "ws", ["nation"])
    add(ws, 0, [], [RowIssue(2, "json_not_an_object", "line 2 is not an object")])
    read, _, _ = census(ws)
    names = [r[0] for r in ws.con.execute("DESCRIBE canonical").fetchall()]
    assert read == {} and ws.count("issues") == {0: 1}
    assert {"delivery", "source_row", "raw:nation", *CANONICAL_COLUMNS} <= set(names)
    ws.close()


def test_the_spool_holds_pseudonyms_never_the_raw_ref(settings, landing, monkeypatch):
    write_csv(landing / "nso" / "r.csv", [row(participant_ref=CANARY_REF), row(source_record_id="R2")])
    ctx = IngestContext.create(settings, "spool-test")
    [delivery] = discover(landing, Ledger.of(settings))
    seen: dict[str, bytes] = {}

    import txpipe.ingest.batch as batch

    real = batch._judge_and_store

    def look_at_the_scratch_folder(members, ctx, workspace, received):
        seen["disk"] = b"".join(p.read_bytes() for p in workspace.spool.rglob("*") if p.is_file())
        return real(members, ctx, workspace, received)

    monkeypatch.setattr(batch, "_judge_and_store", look_at_the_scratch_folder)
    [record] = ingest_batch([delivery], ctx)
    assert record.rows_read == 2
    assert b"participant_pid" in seen["disk"]  # the spooled chunk is there, with the pseudonym column
    assert CANARY_REF.encode() not in seen["disk"]
    assert ctx.pseudonymizer.pid("nso", CANARY_REF).encode() in seen["disk"]
