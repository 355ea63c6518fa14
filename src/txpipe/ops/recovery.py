"""Clean up after a run that was killed: the next run starts from a consistent state.

Called at the start of every run, under the run lock, so nothing it removes is in use:

- temporary files (``.tmp-*`` in the lake, ledger, marts and reports, ``.build-*`` warehouse files);
- the sweep (:func:`sweep`): lake files that no ledger record names (a run killed between writing a
  delivery's files and committing it; the delivery is ingested again as new), and, on a shared store,
  published builds the pointer no longer names; on a shared store only those older than its grace
  period (TXPIPE_SWEEP_GRACE), since another worker may be about to commit them.

The ledger needs no repair: records are never rewritten, and which record superseded which is derived
when it is read (txpipe.store.ledger).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from txpipe.settings import Settings
from txpipe.store.atomic import TMP_PREFIX
from txpipe.store.lake import LAKE
from txpipe.store.ledger import Ledger
from txpipe.store.objects import age, open_store
from txpipe.warehouse.publish import BUILD_PREFIX, published_build


@dataclass
class Recovery:
    temporary_files: list[str] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.temporary_files or self.orphan_files)


def _remove(paths: list[Path], root: Path) -> list[str]:
    removed = []
    for path in paths:
        path.unlink(missing_ok=True)
        removed.append(path.relative_to(root).as_posix())
    return removed


def recover(settings: Settings) -> Recovery:
    report = Recovery()
    home = settings.home
    temporary = []
    for directory in (settings.lake, settings.marts_dir, settings.reports_dir):
        if directory.exists():
            temporary += [p for p in directory.rglob(f"{TMP_PREFIX}*") if p.is_file()]
    if settings.warehouse_dir.exists():
        temporary += [p for p in settings.warehouse_dir.glob(f"{BUILD_PREFIX}*") if p.is_file()]
        for spill in settings.warehouse_dir.glob(f"{BUILD_PREFIX}*"):  # DuckDB's spill, staged marts
            shutil.rmtree(spill, ignore_errors=True)
    report.temporary_files = _remove(temporary, home)
    scratch = home / "tmp"  # census and spool files of a killed ingest
    if scratch.exists():
        shutil.rmtree(scratch, ignore_errors=True)

    report.orphan_files = sweep(settings)
    return report


def sweep(settings: Settings) -> list[str]:
    """Remove the lake files no ledger record names, and the published builds the pointer does not name,
    once older than the store's grace period; return their keys."""
    store = open_store(settings)
    named = {LAKE + name for record in Ledger(store).records() for name in record.files}
    build = published_build(settings)
    current = set(build.keys.values()) if build else set()
    unnamed = [
        obj
        for prefix, keep in ((f"{LAKE}participation/", named), (f"{LAKE}quarantine/", named), ("builds/", current))
        for obj in store.listing(prefix)
        if obj.key not in keep and obj.key.endswith((".parquet", ".csv", ".duckdb"))
    ]
    swept = [obj.key for obj in unnamed if age(obj) >= store.sweep_grace]
    store.delete(swept)
    return swept
