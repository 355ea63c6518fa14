"""The landing is a closed world: links and special files are skipped and reported; a file that
changes while it is read is left for the next run, with nothing of it kept."""

from __future__ import annotations

import os

import pytest

from tests.conftest import ingest_all, row, write_csv
from txpipe.ingest import DeliveryDeferred, IngestContext
from txpipe.ingest.batch import ingest_batch
from txpipe.ingest.landing import discover, skipped_entries, survey
from txpipe.store.ledger import Ledger

SECRET = "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash"


@pytest.fixture
def outside(tmp_path):
    """Files and a folder outside the landing that links point at."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.csv").write_text(SECRET + "\n", encoding="utf-8")
    write_csv(folder / "roster.csv", [row(source_record_id="OUT-1")])
    return folder


def test_links_to_files_and_folders_are_skipped_and_reported(settings, landing, outside):
    write_csv(landing / "jadl" / "real.csv", [row()])
    (landing / "jadl" / "passwd.csv").symlink_to(outside / "secret.csv")
    (landing / "jadl" / "roster_link.csv").symlink_to(outside / "roster.csv")
    (landing / "jadl" / "nested").symlink_to(outside, target_is_directory=True)
    (landing / "evil").symlink_to(outside, target_is_directory=True)
    (landing / "jadl" / "loop").symlink_to(landing / "jadl" / "loop")
    os.mkfifo(landing / "jadl" / "pipe.csv")

    found = survey(landing, Ledger.of(settings))
    assert [d.source_file for d in found.deliveries] == ["real.csv"]
    skipped = {s.path: s.reason for s in found.skipped}
    assert set(skipped) == {
        "evil",
        "jadl/passwd.csv",
        "jadl/roster_link.csv",
        "jadl/nested",
        "jadl/loop",
        "jadl/pipe.csv",
    }
    assert all("symbolic link" in reason for path, reason in skipped.items() if path != "jadl/pipe.csv")
    assert "not a regular file" in skipped["jadl/pipe.csv"]

    records = ingest_all(settings, landing)
    assert [(r.source_file, r.status) for r in records] == [("real.csv", "stored")]
    written = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    assert b"SECRET-FIRST-LINE" not in written and b"OUT-1" not in written


def test_a_linked_landing_root_is_where_the_operator_pointed(settings, tmp_path, outside):
    real = tmp_path / "real_landing"
    write_csv(real / "jadl" / "a.csv", [row()])
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    assert [d.source_file for d in discover(tmp_path / "linked", Ledger.of(settings))] == ["a.csv"]
    assert skipped_entries(tmp_path / "linked") == []


def test_a_file_that_grows_after_discovery_is_deferred(settings, landing):
    path = write_csv(landing / "jadl" / "growing.csv", [row(source_record_id=f"R{i}") for i in range(5)])
    [delivery] = discover(landing, Ledger.of(settings))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(",".join(row(source_record_id="R99").values()) + "\n")
    [outcome] = ingest_batch([delivery], IngestContext.create(settings, "t"))
    assert isinstance(outcome, DeliveryDeferred) and "changed while it was read" in str(outcome)
    assert not list(settings.lake.rglob("*.parquet"))


def test_a_file_written_while_it_is_read_keeps_nothing_and_is_taken_whole_next_time(settings, landing, monkeypatch):
    path = write_csv(landing / "jadl" / "growing.csv", [row(source_record_id=f"R{i}") for i in range(5)])
    [delivery] = discover(landing, Ledger.of(settings))
    import txpipe.ingest.load as ingest

    real_read = ingest.read_delivery

    def read_then_append(*args, **kwargs):
        delivered = real_read(*args, **kwargs)
        with open(path, "a", encoding="utf-8") as handle:  # the provider goes on writing
            handle.write(",".join(row(source_record_id="R99").values()) + "\n")
        return delivered

    monkeypatch.setattr(ingest, "read_delivery", read_then_append)
    ctx = IngestContext.create(settings, "t")
    [outcome] = ingest_batch([delivery], ctx)
    assert isinstance(outcome, DeliveryDeferred)
    assert not list(settings.lake.rglob("*.parquet")), "nothing of a deferred delivery is kept"
    monkeypatch.setattr(ingest, "read_delivery", real_read)
    [record] = ingest_all(settings, landing, context=ctx)
    assert (record.rows_read, record.rows_stored, record.size) == (6, 6, path.stat().st_size)
