"""Atomic publish: build a new file beside the published one, checkpoint, close, rename over it.

Readers that have the old file open keep their snapshot; new connections see the new file; no
reader ever sees a half-built warehouse.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from txpipe.settings import Settings
from txpipe.warehouse import WAREHOUSE_FILE
from txpipe.warehouse.build import build_warehouse

BUILD_PREFIX = ".build-"


def warehouse_path(settings: Settings) -> Path:
    return settings.warehouse_dir / WAREHOUSE_FILE


def publish_warehouse(settings: Settings) -> tuple[Path, dict[str, int]]:
    """Build and publish; returns the published path and the row count of every table."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    building = settings.warehouse_dir / f"{BUILD_PREFIX}{uuid.uuid4().hex}.duckdb"
    try:
        counts = build_warehouse(settings, building)
        with open(building, "rb") as handle:
            os.fsync(handle.fileno())
        published = warehouse_path(settings)
        os.replace(building, published)
        _fsync_dir(settings.warehouse_dir)
    finally:
        building.unlink(missing_ok=True)
        Path(f"{building}.wal").unlink(missing_ok=True)
    return published, counts


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
