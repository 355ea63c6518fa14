"""Supersession is derived on read, the same whatever order workers committed in.

The oracle replays the documented rule in the records' own order (received, then judged): a stored
delivery supersedes the file's stored delivery before it; any delivery supersedes the file's rejected
delivery before it; a rejected one never supersedes a stored one. The ledger under test has the records
committed in a random order (as racing workers would), by create-only writes, and is read fresh."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from txpipe.store.ledger import DeliveryRecord, Ledger
from txpipe.store.objects import LocalStore

FILES = ("a.csv", "b.csv")


def _record(i: int, name: str, status: str) -> DeliveryRecord:
    return DeliveryRecord(
        batch_id=f"batch{i:03d}",
        source="nso",
        source_file=name,
        sha256=f"{i:064x}",
        received_at=f"2026-01-01T00:00:{i:02d}+00:00",
        status=status,
        rows_read=1,
        rows_stored=1 if status == "stored" else 0,
        judged_at=f"2026-01-01T00:00:{i:02d}+00:00",
    )


def _oracle(records: list[DeliveryRecord]) -> dict[str, tuple[str, str | None]]:
    """(status, superseded_by) of every batch, replaying the rule in received order."""
    out = {r.batch_id: (r.status, None) for r in records}
    latest: dict[str, DeliveryRecord] = {}
    counting: dict[str, DeliveryRecord] = {}
    for record in sorted(records, key=lambda r: r.received_at):
        name = record.source_file
        if name in latest and latest[name].status == "rejected":
            out[latest[name].batch_id] = ("superseded", record.batch_id)
        if record.status == "stored" and name in counting:
            out[counting[name].batch_id] = ("superseded", record.batch_id)
            counting[name] = record
        elif record.status == "stored":
            counting[name] = record
        latest[name] = record
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(FILES), st.sampled_from(["stored", "rejected"])), min_size=1, max_size=9),
    st.randoms(use_true_random=False),
)
def test_derived_supersession_matches_the_rule_in_any_commit_order(tmp_path_factory, made, shuffler):
    records = [_record(i, name, status) for i, (name, status) in enumerate(made)]
    expected = _oracle([_record(i, name, status) for i, (name, status) in enumerate(made)])
    order = list(records)
    shuffler.shuffle(order)
    store = LocalStore(tmp_path_factory.mktemp("ledger"))
    writer = Ledger(store)
    for record in order:
        assert writer.commit(record) is not None
        assert writer.commit(_record(int(record.batch_id[5:]), record.source_file, record.status)) is None  # twice
    fresh = Ledger(store)
    assert {r.batch_id: (r.status, r.superseded_by) for r in fresh.records()} == expected
    counting = {key[1]: r.batch_id for key, r in fresh.counting().items()}
    assert counting == {
        name: max(
            b for b, (status, by) in expected.items() if status == "stored" and by is None and _file(made, b) == name
        )
        for name in {n for n, s in made if s == "stored"}
    }


def _file(made: list[tuple[str, str]], batch_id: str) -> str:
    return made[int(batch_id[5:])][0]
