"""Small deliveries judged together give exactly what each gives alone: same records, same lake."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq

from tests.conftest import SAMPLE_LANDING, row, write_csv
from txpipe.ingest import DeliveryDeferred, DeliveryFailed, IngestContext, ingest_delivery
from txpipe.ingest.landing import Delivery, discover
from txpipe.ingest.small_deliveries import GROUP_FILES, SMALL_BYTES, ingest_group, plan_groups
from txpipe.settings import REPO_ROOT, Settings
from txpipe.store.ledger import Ledger

HOSTILE_LANDING = REPO_ROOT / "tests" / "hostile" / "landing"
VOLATILE = {"received_at", "run_id"}


def _landing(tmp_path):
    """The sample and the hostile corpus, plus deliveries that differ only in their conflicting ids."""
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING, landing)
    shutil.copytree(HOSTILE_LANDING, landing, dirs_exist_ok=True)
    write_csv(landing / "jadl" / "conflict_a.csv", [row(source_record_id="X1"), row(source_record_id="X1", score="10")])
    write_csv(
        landing / "jadl" / "conflict_b.csv", [row(source_record_id="X1"), row(source_record_id="X2", nation="ZZZ")]
    )
    write_csv(landing / "jadl" / "dup.csv", [row(source_record_id="D1")] * 3)
    return landing


def _ingest(home, landing, monkeypatch, grouped: bool):
    monkeypatch.setenv("TXPIPE_HOME", str(home))
    settings = Settings.from_env()
    ctx = IngestContext.create(settings, "same-run")
    ledger = Ledger(settings.ledger_dir)
    deliveries = discover(landing, ledger)
    if grouped:
        outcomes = [o for group in plan_groups(deliveries) for o in ingest_group(group, ctx)]
    else:
        outcomes = [ingest_delivery(d, ctx) for d in deliveries]
    for outcome in outcomes:
        assert not isinstance(outcome, (DeliveryFailed, DeliveryDeferred)), outcome
        ledger.commit(outcome)
    records = {(o.source, o.source_file): {k: v for k, v in vars(o).items() if k not in VOLATILE} for o in outcomes}
    tables = {}
    for path in sorted(settings.lake.rglob("*.parquet")):
        table = pq.read_table(path)
        keep = [c for c in table.column_names if c not in {"ingested_at", "run_id"}]
        tables[path.relative_to(settings.lake).as_posix()] = table.select(keep).to_pylist()
    return records, tables


def test_grouped_and_alone_give_the_same_records_and_lake(tmp_path, monkeypatch):
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", "k")
    monkeypatch.setenv("TXPIPE_CHUNK_ROWS", "7")  # several chunks per delivery, on both paths
    landing = _landing(tmp_path)
    alone = _ingest(tmp_path / "alone", landing, monkeypatch, grouped=False)
    grouped = _ingest(tmp_path / "grouped", landing, monkeypatch, grouped=True)
    assert len(alone[0]) > 60 and any(r["status"] == "rejected" for r in alone[0].values())
    assert any(r["quarantine_reasons"].get("conflicting_duplicate") for r in alone[0].values())
    assert grouped[0] == alone[0]
    assert grouped[1] == alone[1]


def _delivery(size: int, name: str) -> Delivery:
    return Delivery("s", REPO_ROOT / name, name, "0" * 64, size)


def test_groups_gather_small_files_and_leave_large_ones_alone():
    deliveries = (
        [_delivery(100, f"a{i}") for i in range(GROUP_FILES + 5)]
        + [_delivery(SMALL_BYTES + 1, "big")]
        + [_delivery(100, "z")]
    )
    groups = plan_groups(deliveries)
    assert sorted(len(g) for g in groups) == [1, 6, GROUP_FILES]
    assert [[d.source_file for d in g] for g in groups if len(g) == 1] == [["big"]]
    assert sorted(d.source_file for g in groups for d in g) == sorted(d.source_file for d in deliveries)


def test_one_bad_delivery_does_not_spoil_its_group(settings, landing, monkeypatch):
    for name in ("a", "b", "c"):
        write_csv(landing / "jadl" / f"{name}.csv", [row(source_record_id=f"{name}1")])
    deliveries = discover(landing, Ledger(settings.ledger_dir))
    import txpipe.ingest.chunks as ingest

    real = ingest.normalize

    def crash_on_b(raw, config, reference):
        if "b1" in set(raw["source_record_id"]):
            raise IndexError(raw["source_record_id"].iloc[0] + "-leaked")
        return real(raw, config, reference)

    monkeypatch.setattr(ingest, "normalize", crash_on_b)
    outcomes = ingest_group(deliveries, IngestContext.create(settings, "t"))
    assert [type(o).__name__ for o in outcomes] == ["DeliveryRecord", "DeliveryFailed", "DeliveryRecord"]
    assert outcomes[1].stage == "normalise" and "b1-leaked" not in outcomes[1].traceback
    assert [o.rows_stored for o in (outcomes[0], outcomes[2])] == [1, 1]
