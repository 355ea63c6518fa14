"""Census stage: exact and conflicting duplicates across each whole delivery, however many chunks it
streamed in, as SQL over the batch's workspace (``sql/census_*.sql``).

A row is an exact duplicate when an earlier row of the same delivery has the same trimmed
source_record_id and the same delivered values (two independent 64-bit hashes of them): it collapses.
An id that occurs with more than one content in a delivery is conflicting: every copy of it is
quarantined by the rule that takes the ``conflicting_ids`` parameter (judged per delivery, in SQL).
"""

from __future__ import annotations

from txpipe.ingest.workspace import Workspace, sql

CENSUS = ("census_rows", "census_duplicate_rows", "census_conflicting_ids", "canonical")


def take_census(workspace: Workspace) -> None:
    """Create ``duplicates`` (delivery, source_row), ``conflicting_ids`` (delivery, value) and
    ``canonical`` (every delivered row but exact duplicates) in the workspace."""
    for name in CENSUS:
        workspace.con.execute(sql(name))
