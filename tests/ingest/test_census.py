"""The census: exact duplicates and conflicting ids across chunks, blank ids included."""

from __future__ import annotations

import pandas as pd

from txpipe.ingest.census import CensusTaker
from txpipe.ingest.spool import frame_to_table


def chunk(rows: list[tuple[int, str | None, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(rid, value) for _, rid, value in rows], columns=["source_record_id", "status"], dtype="string"
    )
    frame.index = pd.Index([row for row, _, _ in rows], name="source_row", dtype="int64")
    return frame_to_table(frame)


def test_duplicates_and_conflicts_are_found_across_chunks(tmp_path):
    with CensusTaker(tmp_path / "census") as census:
        census.add(chunk([(2, "A", "passed"), (3, "B", "passed"), (4, None, "failed"), (5, "C", "passed")]), 0)
        census.add(
            chunk(
                [(6, "A", "passed"), (7, "B", "failed"), (8, None, "failed"), (9, "A", "passed"), (10, None, "passed")]
            ),
            2,
        )
        result = census.result()
    assert result.rows_read == 11  # 9 rows and 2 unreadable records
    assert result.duplicate_rows == {6, 8, 9}  # later copies of A and of the blank-id row; the first stays
    assert result.conflicting_ids == ("B",)  # B has two contents; blank ids are never "conflicting"


def test_a_clean_delivery_has_no_duplicates(tmp_path):
    with CensusTaker(tmp_path / "census") as census:
        census.add(chunk([(2, "A", "passed"), (3, "B", "passed")]), 0)
        result = census.result()
    assert result.duplicate_rows == frozenset() and result.conflicting_ids == () and result.rows_read == 2
