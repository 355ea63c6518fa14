"""A publish race on S3: two builders (homes of their own, as on two hosts) plan from the same published
build and publish at once. The compare-and-swap of the pointer lets exactly one through; the other says so
and removes its objects; readers resolving the pointer all the while only ever open a whole build."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest

from tests.conftest import TEST_KEY, ingest_all, row, write_csv
from txpipe.jobs.build_job import BuildLost, build, plan_build
from txpipe.settings import Settings
from txpipe.store.objects import open_store
from txpipe.warehouse.publish import POINTER, published_build, warehouse_path

pytestmark = pytest.mark.deep  # builds on S3, seconds each


def _settings(home, s3) -> Settings:
    store, endpoint, _ = s3
    return Settings.from_env(
        {
            "TXPIPE_HOME": str(home),
            "TXPIPE_PSEUDONYM_KEY": TEST_KEY,
            "TXPIPE_STORE": store,
            "TXPIPE_S3_ENDPOINT": endpoint,
        }
    )


def _read_while(settings: Settings, done: threading.Event) -> list[tuple[int, int]]:
    """(rows the pointer says participation holds, rows read) of every build a reader opened meanwhile."""
    seen = []
    while not done.is_set():
        current = published_build(settings)
        if current is None:
            continue
        with duckdb.connect(str(warehouse_path(settings, current)), read_only=True) as con:  # resolved once
            seen.append(
                (current.counts["participation"], con.execute("SELECT count(*) FROM participation").fetchone()[0])
            )
    return seen


def test_two_builders_from_one_pointer_publish_exactly_once(s3_store, tmp_path, landing, monkeypatch):
    for name, value in s3_store[2].items():
        monkeypatch.setenv(name, value)
    first, second, reader = (_settings(tmp_path / name, s3_store) for name in ("first", "second", "reader"))
    write_csv(landing / "nso" / "a.csv", [row(source_record_id=f"R{n}") for n in range(40)])
    ingest_all(first, landing)
    build(first, plan_build(first))  # a build is published: readers always find one
    write_csv(landing / "nso" / "b.csv", [row(source_record_id=f"S{n}") for n in range(25)])
    ingest_all(first, landing)
    plans = [plan_build(first), plan_build(second)]
    assert plans[0].pointer == plans[1].pointer is not None
    done = threading.Event()
    with ThreadPoolExecutor(3) as pool:
        readers = pool.submit(_read_while, reader, done)
        racing = [pool.submit(build, settings, plan) for settings, plan in zip((first, second), plans, strict=True)]
        outcomes = []
        for future in racing:
            try:
                outcomes.append(future.result().counts["participation"])
            except BuildLost as lost:
                outcomes.append(str(lost))
        done.set()
        seen = readers.result()
    assert sorted(map(type, outcomes), key=str) == [int, str] and 65 in outcomes  # one winner, one loser
    assert "another build published first" in next(o for o in outcomes if isinstance(o, str))
    assert seen and all(said == read for said, read in seen)  # never a partial or mismatched build
    store = open_store(reader)
    current = published_build(reader)
    assert current is not None and current.counts["participation"] == 65
    kept = {o.key for o in store.listing("builds/")}
    assert set(current.keys.values()) <= kept
    assert len({key.split("/")[1] for key in kept}) == 2  # the first publish and the winner; the loser's are gone
    assert store.exists(POINTER)


def test_a_build_that_lost_leaves_the_winner_readable(s3_store, tmp_path, landing, monkeypatch):
    for name, value in s3_store[2].items():
        monkeypatch.setenv(name, value)
    one, two = (_settings(tmp_path / name, s3_store) for name in ("one", "two"))
    write_csv(landing / "nso" / "a.csv", [row(source_record_id=f"R{n}") for n in range(10)])
    ingest_all(one, landing)
    stale = plan_build(two)  # planned before the other publishes
    build(one, plan_build(one))
    with pytest.raises(BuildLost):
        build(two, stale)
    assert published_build(two) is not None
    with duckdb.connect(str(warehouse_path(two)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM participation").fetchone()[0] == 10


def test_a_reader_never_writes_to_the_store(s3_store, tmp_path, landing, monkeypatch):
    """What `txpipe query`, dashboards and BI do (check the store, resolve the pointer, open the build) makes no
    write: a key that may only read serves them."""
    for name, value in s3_store[2].items():
        monkeypatch.setenv(name, value)
    writer, reader = (_settings(tmp_path / name, s3_store) for name in ("writer", "reader"))
    write_csv(landing / "nso" / "a.csv", [row(source_record_id=f"R{n}") for n in range(7)])
    ingest_all(writer, landing)
    build(writer, plan_build(writer))
    store = open_store(reader)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a reader wrote to the store")

    for method in ("create", "swap", "delete", "writer", "publish"):
        monkeypatch.setattr(store, method, refuse)
    monkeypatch.setattr(store.fs, "pipe_file", refuse)
    store.check(write=False, key=POINTER)
    with duckdb.connect(str(warehouse_path(reader)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM participation").fetchone()[0] == 7
