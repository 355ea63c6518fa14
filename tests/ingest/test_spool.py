"""The spool between the census and the store pass: exact round trip, and no raw participant_ref on disk."""

from __future__ import annotations

import pandas as pd

from tests.conftest import row, write_csv
from txpipe.ingest import IngestContext
from txpipe.ingest.chunks import first_pass
from txpipe.ingest.landing import discover
from txpipe.ingest.readers import RowIssue
from txpipe.ingest.spool import Spool, frame_to_table
from txpipe.store.ledger import Ledger

CANARY_REF = "CANARY-REF-77d0a1"


def test_chunks_come_back_in_order_with_their_values_index_and_issues(tmp_path):
    spool = Spool(tmp_path / "spool")
    first = pd.DataFrame(
        {"a": ["x", None, "  z"], "b": ["1", "2", None]}, dtype="string", index=pd.Index([2, 3, 5], name="source_row")
    )
    second = pd.DataFrame(
        {"a": pd.array([], dtype="string"), "b": pd.array([], dtype="string")},
        index=pd.Index([], name="source_row", dtype="int64"),
    )
    spool.add(frame_to_table(first), [RowIssue(4, "csv_field_count", "expected 2 fields, found 3 (line 4)")])
    spool.add(frame_to_table(second), [RowIssue(6, "json_not_an_object", "line 6 is not an object")])
    (frame_a, issues_a), (frame_b, issues_b) = list(spool)
    pd.testing.assert_frame_equal(frame_a, first)
    assert issues_a == [RowIssue(4, "csv_field_count", "expected 2 fields, found 3 (line 4)")]
    assert frame_b.empty and list(frame_b.columns) == ["a", "b"]
    assert issues_b == [RowIssue(6, "json_not_an_object", "line 6 is not an object")]


def test_the_spool_holds_pseudonyms_never_the_raw_ref(settings, landing):
    write_csv(landing / "nso" / "r.csv", [row(participant_ref=CANARY_REF), row(source_record_id="R2")])
    ctx = IngestContext.create(settings, "spool-test")
    [delivery] = discover(landing, Ledger(settings.ledger_dir))
    scratch = settings.home / "tmp" / "spool-test"
    _, _, census, spool = first_pass(delivery, ctx, scratch)
    assert census.rows_read == 2 and spool.chunks == 1
    on_disk = b"".join(p.read_bytes() for p in scratch.rglob("*") if p.is_file())
    assert b"participant_pid" in on_disk  # the spooled chunk is there, with the pseudonym column
    assert CANARY_REF.encode() not in on_disk
    [(frame, _)] = list(spool)
    assert "participant_ref" not in frame.columns
    assert frame["participant_pid"].iloc[0] == ctx.pseudonymizer.pid("nso", CANARY_REF)
