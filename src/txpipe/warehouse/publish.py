"""Atomic publish: build in a file beside the published one (new, or a copy of it), checkpoint, close,
rename over it.

Readers that have the old file open keep their snapshot; new connections see the new file; no
reader ever sees a half-built warehouse.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from txpipe.settings import Settings
from txpipe.store.atomic import write_text_atomically
from txpipe.store.ledger import Ledger
from txpipe.warehouse import WAREHOUSE_FILE
from txpipe.warehouse.build import build_warehouse, held_deliveries, inputs_fingerprint
from txpipe.warehouse.headline import Headline

BUILD_PREFIX = ".build-"
BUILD_INFO = "build.json"


def warehouse_path(settings: Settings) -> Path:
    return settings.warehouse_dir / WAREHOUSE_FILE


def publish_warehouse(settings: Settings, extend: bool = True) -> tuple[Path, dict[str, int]]:
    """Build and publish; returns the published path and the row count of every table.

    With ``extend`` the build starts from a copy of the published warehouse when it can (see
    build.held_deliveries); else, or without ``extend``, from a new file.
    """
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    build_id = uuid.uuid4().hex
    building = settings.warehouse_dir / f"{BUILD_PREFIX}{build_id}.duckdb"
    ready = settings.warehouse_dir / f"{BUILD_PREFIX}{build_id}.ready.duckdb"
    published = warehouse_path(settings)
    try:
        records = Ledger(settings.ledger_dir).records()
        held = held_deliveries(published, settings, records) if extend else None
        if held:
            shutil.copyfile(published, building)
        counts = build_warehouse(settings, building, held or frozenset(), records)
        _publish_copy(building, ready, published)
    finally:
        for leftover in (building, ready, Path(f"{building}.wal")):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(f"{building}.tmp", ignore_errors=True)  # DuckDB's spill folder
    return published, counts


def _publish_copy(building: Path, ready: Path, published: Path) -> None:
    """Publish a plain copy of the built file, fsynced, by an atomic rename.

    Readers only ever open a file that no DuckDB instance of this process had open for writing: a
    write that reached the built file after its connection closed (an instance kept alive by a
    lingering object until a later garbage collection, which checkpoints or truncates on its way
    out) cannot change a file that readers already read. The reader test saw, rarely and only
    since builds extend a copy, a reader fail reading past the end of the published file.
    """
    gc.collect()  # any object of the build's DuckDB still alive goes now, before the copy
    shutil.copyfile(building, ready)
    with open(ready, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(ready, published)
    _fsync_dir(published.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_fingerprint(settings: Settings) -> str:
    """Everything a build reads: the ledger, the reference data, the SQL and txpipe's version.

    Lake files need no hashing: they are immutable and named by the ledger's batch ids.
    """
    digest = hashlib.sha256(inputs_fingerprint(settings).encode())
    for path in sorted(settings.ledger_dir.glob("*.json")) if settings.ledger_dir.exists() else []:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class PublishedBuild:
    """What a complete publish recorded in build.json: the inputs' fingerprint, the row count of every
    table, the mart files and the headline figures."""

    fingerprint: str
    counts: dict[str, int]
    marts: tuple[str, ...]
    headline: Headline


def published_build(settings: Settings) -> PublishedBuild | None:
    """What the last complete publish (warehouse and marts) recorded, if its outputs are all there."""
    info_path = settings.warehouse_dir / BUILD_INFO
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        build = PublishedBuild(
            fingerprint=str(info["fingerprint"]),
            counts={str(name): int(count) for name, count in info["counts"].items()},
            marts=tuple(str(name) for name in info.get("marts", [])),
            headline=Headline.from_json(info.get("headline")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # missing, or not what we write: rebuild
        return None
    outputs = [warehouse_path(settings)] + [settings.marts_dir / name for name in build.marts]
    return build if all(p.exists() for p in outputs) else None


def current_build(settings: Settings) -> PublishedBuild | None:
    """What the last publish recorded, if nothing a build reads has changed since (else None)."""
    previous = published_build(settings)
    return previous if previous and previous.fingerprint == build_fingerprint(settings) else None


def record_build(
    settings: Settings, fingerprint: str, counts: dict[str, int], marts: list[Path], headline: Headline
) -> None:
    """Written last, after the marts: a run killed before this point rebuilds next time."""
    info = {
        "fingerprint": fingerprint,
        "counts": counts,
        "marts": sorted(p.name for p in marts),
        "headline": headline.to_json(),
    }
    write_text_atomically(settings.warehouse_dir / BUILD_INFO, json.dumps(info, indent=2))
