"""Publish: build in a local file no reader has, put it in the store, then make it current by one
compare-and-swap of the build's pointer (``warehouse/build.json``).

The pointer names what a complete publish made (the warehouse and the marts, by key), with the
fingerprint of what it read, the row counts and the headline. Readers resolve the pointer
(:func:`warehouse_path`), so no reader sees a build before it is whole. On the local store the files go
in place by rename, as before (readers that have the old file open keep their snapshot); on an S3
store each build's objects have keys of their own and a build that loses the race for the pointer
removes them (:func:`publish_build`).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from txpipe.settings import Settings
from txpipe.store.ledger import Ledger
from txpipe.store.objects import open_store
from txpipe.warehouse import WAREHOUSE_FILE
from txpipe.warehouse.build import build_warehouse, held_deliveries, inputs_fingerprint
from txpipe.warehouse.headline import Headline

BUILD_PREFIX = ".build-"
BUILD_INFO = "build.json"
POINTER = f"warehouse/{BUILD_INFO}"
WAREHOUSE_KEY = f"warehouse/{WAREHOUSE_FILE}"


def warehouse_path(settings: Settings, build: PublishedBuild | None = None) -> Path:
    """The published warehouse as a local file (on an S3 store a local copy): the one ``build`` names, else
    the one the pointer names now. A path that does not exist when nothing is published yet."""
    build = build or published_build(settings)
    key = build.keys.get(WAREHOUSE_KEY, WAREHOUSE_KEY) if build else WAREHOUSE_KEY
    try:
        return open_store(settings).local_file(key)
    except FileNotFoundError:
        return settings.warehouse_dir / WAREHOUSE_FILE


@dataclass(frozen=True)
class StagedBuild:
    """A warehouse built in a local file, ready to publish (fsynced, closed), and its row counts."""

    build_id: str
    path: Path
    counts: dict[str, int]


def stage_warehouse(settings: Settings, extend: bool = True) -> StagedBuild:
    """Build a warehouse in a local file beside the published one.

    With ``extend`` the build starts from a copy of the published warehouse when it can (see
    build.held_deliveries); else, or without ``extend``, from a new file.
    """
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    build_id = uuid.uuid4().hex
    building = settings.warehouse_dir / f"{BUILD_PREFIX}{build_id}.duckdb"
    ready = settings.warehouse_dir / f"{BUILD_PREFIX}{build_id}.ready.duckdb"
    try:
        records = Ledger.of(settings).records()
        published = warehouse_path(settings)
        held = held_deliveries(published, settings, records) if extend else None
        if held:
            shutil.copyfile(published, building)
        counts = build_warehouse(settings, building, held or frozenset(), records)
        _plain_copy(building, ready)
    finally:
        for leftover in (building, Path(f"{building}.wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(f"{building}.tmp", ignore_errors=True)  # DuckDB's spill folder
    return StagedBuild(build_id, ready, counts)


def publish_warehouse(settings: Settings, extend: bool = True) -> tuple[Path, dict[str, int]]:
    """Build and publish the warehouse alone (no marts; its pointer records no fingerprint, so the next
    run's build publishes again); returns the published path and the row count of every table."""
    expected = pointer_version(settings)
    staged = stage_warehouse(settings, extend)
    if publish_build(settings, staged, {}, BuildInfo(fingerprint="", counts=staged.counts), expected) is None:
        raise RuntimeError("another build published first; this build's files were removed")
    return warehouse_path(settings), staged.counts


def _plain_copy(building: Path, ready: Path) -> None:
    """A plain copy of the built file, fsynced: readers only ever open a file that no DuckDB instance of
    this process had open for writing. A write that reached the built file after its connection closed
    (an instance kept alive by a lingering object until a later garbage collection, which checkpoints or
    truncates on its way out) cannot change a file that readers already read. The reader test saw,
    rarely and only since builds extend a copy, a reader fail reading past the end of the published file.
    """
    gc.collect()  # any object of the build's DuckDB still alive goes now, before the copy
    shutil.copyfile(building, ready)
    with open(ready, "rb") as handle:
        os.fsync(handle.fileno())


def build_fingerprint(settings: Settings) -> str:
    """Everything a build reads: the ledger, the reference data, the SQL and txpipe's version.

    The ledger's record names are enough: records are created once and never rewritten, and lake
    files are immutable and named by them.
    """
    digest = hashlib.sha256(inputs_fingerprint(settings).encode())
    for name in Ledger.of(settings).names():
        digest.update(name.encode() + b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildInfo:
    """What a publish records in the pointer besides the keys: the inputs' fingerprint ("" when unknown:
    the next build publishes again), the row count of every table and the headline figures."""

    fingerprint: str
    counts: dict[str, int]
    headline: Headline = field(default_factory=lambda: Headline.from_json(None))


@dataclass(frozen=True)
class PublishedBuild:
    """What the pointer of a complete publish names: its info, the mart files, and the key in the store of
    every output (``warehouse/txpipe.duckdb``, ``marts/<file>``)."""

    fingerprint: str
    counts: dict[str, int]
    marts: tuple[str, ...]
    headline: Headline
    keys: dict[str, str]


def marts_location(settings: Settings, build: PublishedBuild | None) -> str:
    """Where the marts of ``build`` are: the folder ``marts/`` of a local store, a build's prefix on S3."""
    keys = [key for name, key in (build.keys if build else {}).items() if name.startswith("marts/")]
    return open_store(settings).url(keys[0].rsplit("/", 1)[0] if keys else "marts")


def pointer_version(settings: Settings) -> str | None:
    """The pointer's version now: a publish replaces the pointer only if it is still this."""
    return open_store(settings).version(POINTER)


def published_build(settings: Settings) -> PublishedBuild | None:
    """What the current pointer names, if it is what we write and its outputs are all there."""
    store = open_store(settings)
    try:
        info = json.loads(store.read_bytes(POINTER).decode("utf-8"))
        marts = tuple(str(name) for name in info.get("marts", []))
        default = {WAREHOUSE_KEY: WAREHOUSE_KEY, **{f"marts/{m}": f"marts/{m}" for m in marts}}  # before keys
        build = PublishedBuild(
            fingerprint=str(info["fingerprint"]),
            counts={str(name): int(count) for name, count in info["counts"].items()},
            marts=marts,
            headline=Headline.from_json(info.get("headline")),
            keys={str(k): str(v) for k, v in (info.get("keys") or default).items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # missing, or not what we write: rebuild
        return None
    return build if all(store.exists(key) for key in build.keys.values()) else None


def current_build(settings: Settings) -> PublishedBuild | None:
    """What the last publish recorded, if nothing a build reads has changed since (else None)."""
    previous = published_build(settings)
    return previous if previous and previous.fingerprint == build_fingerprint(settings) else None


def publish_build(
    settings: Settings, staged: StagedBuild, marts: dict[str, Path], info: BuildInfo, expected: str | None
) -> PublishedBuild | None:
    """Put the staged warehouse and the mart files (name -> local file) in the store, then make them current
    by swapping the pointer from version ``expected`` (read before the build began: None when there was no
    pointer). None when another build swapped it first: this build's objects that the winner does not name
    are removed."""
    store = open_store(settings)
    files = {WAREHOUSE_KEY: staged.path, **{f"marts/{name}": path for name, path in marts.items()}}
    keys = store.publish(files, staged.build_id)
    build = PublishedBuild(info.fingerprint, info.counts, tuple(sorted(marts)), info.headline, keys)
    pointer = {
        "fingerprint": build.fingerprint,
        "counts": build.counts,
        "marts": list(build.marts),
        "headline": build.headline.to_json(),
        "keys": keys,
        "build": staged.build_id,
    }
    if store.swap(POINTER, json.dumps(pointer, indent=2).encode(), expected):
        return build
    winner = published_build(settings)
    named = set(winner.keys.values()) if winner else set()
    store.delete(key for key in keys.values() if key not in named)
    return None
