"""What a killed run leaves behind is cleaned up, and the result is as if it had not happened."""

from __future__ import annotations

import json

from tests.conftest import ingest_all, read_parquet_rows, row, write_csv
from txpipe.ops.recovery import recover
from txpipe.store.ledger import Ledger
from txpipe.warehouse.build import lake_files


def test_leftovers_of_a_killed_run_are_removed(settings, landing):
    write_csv(landing / "nso" / "a.csv", [row()])
    [record] = ingest_all(settings, landing)
    lake = settings.lake
    (lake / "participation" / ".tmp-abc-x.parquet").write_bytes(b"half")
    orphan = lake / "participation" / "programme=education" / "year=2024" / "deadbeef.parquet"
    orphan.write_bytes((lake / record.files[0]).read_bytes())  # files of a delivery never committed
    settings.warehouse_dir.mkdir(parents=True)
    (settings.warehouse_dir / ".build-123.duckdb").write_bytes(b"partial")
    (settings.warehouse_dir / ".build-123.duckdb.wal").write_bytes(b"partial")
    report = recover(settings)
    assert sorted(report.temporary_files) == [
        "lake/participation/.tmp-abc-x.parquet",
        "warehouse/.build-123.duckdb",
        "warehouse/.build-123.duckdb.wal",
    ]
    assert report.orphan_files == ["lake/participation/programme=education/year=2024/deadbeef.parquet"]
    assert not orphan.exists() and (lake / record.files[0]).exists()
    assert not recover(settings).anything


def test_supersession_is_derived_on_read_and_never_written(settings, landing):
    path = write_csv(landing / "nso" / "a.csv", [row()])
    [first] = ingest_all(settings, landing)
    written = (settings.ledger_dir / f"{first.batch_id}.json").read_bytes()
    write_csv(path, [row(), row(source_record_id="R2")])
    [second] = ingest_all(settings, landing)
    old = settings.ledger_dir / f"{first.batch_id}.json"
    assert old.read_bytes() == written and json.loads(written)["status"] == "stored"  # created once, never rewritten
    assert not recover(settings).anything
    records = Ledger.of(settings).records()
    assert {r.batch_id: r.status for r in records} == {first.batch_id: "superseded", second.batch_id: "stored"}
    assert len(lake_files(settings, records, "participation")) == 1


def test_a_delivery_whose_commit_was_lost_is_ingested_again(settings, landing):
    write_csv(landing / "nso" / "a.csv", [row(), row(source_record_id="R2")])
    [record] = ingest_all(settings, landing)
    (settings.ledger_dir / f"{record.batch_id}.json").unlink()  # killed before the ledger commit
    recover(settings)
    assert not list(settings.participation_dir.rglob("*.parquet"))
    [again] = ingest_all(settings, landing)
    assert again.batch_id == record.batch_id and again.rows_stored == 2
    assert len(read_parquet_rows(settings.participation_dir)) == 2
