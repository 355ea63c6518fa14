"""The manifest of roster deliveries: every planted defect and warning, written beside the files.

``<out>/.txpipe-generate.json`` is a hidden file, so discovery does not pick it up as a delivery.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST = ".txpipe-generate.json"


@dataclass
class Planted:
    source: str
    file: str
    source_row: int
    defect: str
    rule: str | None
    severity: str = "critical"  # critical: quarantined; warning: stored with the warning


@dataclass
class Manifest:
    seed: int
    rows: int
    defect_rate: float
    files: dict[str, int] = field(default_factory=dict)  # "source/file" -> rows written
    planted: list[Planted] = field(default_factory=list)


def save_manifest(out: Path, manifest: Manifest) -> None:
    """Write the manifest to ``out/.txpipe-generate.json``, its planted entries in file and row order."""
    manifest.planted.sort(key=lambda p: (p.source, p.file, p.source_row))
    (out / MANIFEST).write_text(json.dumps({**asdict(manifest)}, indent=1), encoding="utf-8")


def load_manifest(out: Path) -> Manifest:
    """The manifest that :func:`~txpipe.samples.rosters.generate` wrote under ``out``."""
    data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    planted = [Planted(**p) for p in data.pop("planted")]
    return Manifest(**data, planted=planted)
