"""Paths and settings, read from ``TXPIPE_``-prefixed environment variables.

Every output lives under one root, ``TXPIPE_HOME`` (default ``./data``). Reference data,
source configs and the GX suites belong to the repository and are found beside the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

DEVELOPMENT_PSEUDONYM_KEY = "txpipe-DEVELOPMENT-ONLY-pseudonym-key-do-not-use-in-production"


@dataclass(frozen=True)
class Settings:
    home: Path
    reference_dir: Path
    sources_dir: Path
    expectations_dir: Path
    pseudonym_key: str | None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return cls(
            home=Path(env.get("TXPIPE_HOME", "data")).resolve(),
            reference_dir=Path(env.get("TXPIPE_REFERENCE_DIR", REPO_ROOT / "data" / "reference")),
            sources_dir=Path(env.get("TXPIPE_SOURCES_DIR", REPO_ROOT / "data" / "sources")),
            expectations_dir=Path(env.get("TXPIPE_EXPECTATIONS_DIR", REPO_ROOT / "expectations")),
            pseudonym_key=env.get("TXPIPE_PSEUDONYM_KEY") or None,
        )

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def participation_dir(self) -> Path:
        return self.lake / "participation"

    @property
    def quarantine_dir(self) -> Path:
        return self.lake / "quarantine"

    @property
    def ledger_dir(self) -> Path:
        return self.lake / "deliveries"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def marts_dir(self) -> Path:
        return self.home / "marts"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"
