"""Clean up after a run that was killed: the next run starts from a consistent state.

Called at the start of every run, under the run lock, so nothing it removes is in use:

- temporary files (``.tmp-*`` in the lake, ledger, marts and reports, ``.build-*`` warehouse files);
- lake files of deliveries that have no ledger record (a run killed between writing a
  delivery's files and committing it; the delivery is ingested again as new);
- two current ledger records for one file (a run killed between committing a re-delivery and
  marking the earlier one superseded): the older is marked superseded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from txpipe.settings import Settings
from txpipe.store.atomic import TMP_PREFIX
from txpipe.store.ledger import Ledger
from txpipe.warehouse.publish import BUILD_PREFIX


@dataclass
class Recovery:
    temporary_files: list[str] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.temporary_files or self.orphan_files or self.superseded)


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
        for spill in settings.warehouse_dir.glob(f"{BUILD_PREFIX}*.tmp"):
            shutil.rmtree(spill, ignore_errors=True)
    report.temporary_files = _remove(temporary, home)
    scratch = home / "tmp"  # census and spool files of a killed ingest
    if scratch.exists():
        shutil.rmtree(scratch, ignore_errors=True)

    ledger = Ledger(settings.ledger_dir)
    known = {r.batch_id for r in ledger.records()}
    orphans = []
    for zone in (settings.participation_dir, settings.quarantine_dir):
        if zone.exists():
            orphans += [
                p for p in zone.rglob("*.parquet") if p.stem.split("-")[0] not in known and not p.name.startswith(".")
            ]
    report.orphan_files = _remove(orphans, home)
    report.superseded = [r.batch_id for r in ledger.repair()]
    return report
