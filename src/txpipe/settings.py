"""Paths and settings, read from ``TXPIPE_``-prefixed environment variables.

Every ``TXPIPE_`` variable is read here and nowhere else, once per run (the command line, or a flow
started without settings, calls :meth:`Settings.from_env`) and handed down as a :class:`Settings`.
Every output lives under one root, ``TXPIPE_HOME`` (default ``./data``). Reference data,
source configs and the GX suites belong to the repository and are found beside the package.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

N = TypeVar("N", int, float)

REPO_ROOT = Path(__file__).resolve().parents[2]

# Rows per chunk when a delivery streams through ingest. Readers that build Python rows first
# (Excel, JSON) use at most ROW_BUILT_CHUNK_ROWS of them (see txpipe.ingest.readers).
CHUNK_ROWS = 100_000  # at 5M rows: 660 MiB peak against 764 MiB at 200,000, in the same time


# What one delivered file may hold before it is rejected (README "Limits"; TXPIPE_MAX_* variables).
@dataclass(frozen=True)
class ReadLimits:
    xlsx_bytes: int = 256 << 20  # uncompressed size of an XLSX's parts, in bytes
    xlsx_ratio: int = 100  # uncompressed size over compressed size, per XLSX part
    sheet_rows: int = 1_048_576  # rows in the sheet read (Excel's own maximum)
    sheet_cells: int = 20_000_000  # cells in the sheet read, blank ones included
    field_chars: int = 1_000_000  # characters in one field (cell, CSV field, JSON value)
    roster_bytes: int = 64 << 20  # size of an xAPI source's roster CSV
    record_lines: int = 20  # physical lines one CSV record may span (quoted line breaks)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReadLimits:
        defaults = cls()
        return cls(
            **{
                f.name: _positive_int(env, f"TXPIPE_MAX_{f.name.upper()}", getattr(defaults, f.name))
                for f in fields(cls)
            }
        )


DEFAULT_MAX_QUARANTINE_SHARE = 0.2  # a run alerts when more of its rows than this are quarantined
BUILD_MEMORY_LIMIT = "512MB"  # DuckDB's cap while it builds the warehouse (warehouse.build)

# A file on a shared store that no ledger record names is swept after this long (TXPIPE_SWEEP_GRACE): a
# worker may be between writing a delivery's files and committing its record.
DEFAULT_SWEEP_GRACE = 3600.0

DEVELOPMENT_PSEUDONYM_KEY = "txpipe-DEVELOPMENT-ONLY-pseudonym-key-do-not-use-in-production"


@dataclass(frozen=True)
class Settings:
    home: Path
    reference_dir: Path
    sources_dir: Path
    expectations_dir: Path
    pseudonym_key: SecretStr | None  # masked in repr and in a flow's recorded parameters
    chunk_rows: int = CHUNK_ROWS  # rows per chunk a delivery streams in (tests use a handful)
    limits: ReadLimits = field(default_factory=ReadLimits)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # batches ingested at once by the flows
    build_memory: str = BUILD_MEMORY_LIMIT  # DuckDB memory_limit of the build (e.g. 512MB, 2GB)
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE
    nightly_cron: str | None = None  # txpipe serve: None keeps the schedule prefect.yaml declares
    weekly_cron: str | None = None
    store: str | None = None  # TXPIPE_STORE=s3://BUCKET/PREFIX (txpipe.store.objects); None: TXPIPE_HOME
    s3_endpoint: str | None = None  # TXPIPE_S3_ENDPOINT=http://host:port; None: AWS itself
    sweep_grace: float = DEFAULT_SWEEP_GRACE  # seconds before a shared store's unnamed file is swept

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            home=Path(env.get("TXPIPE_HOME", "data")).resolve(),
            reference_dir=Path(env.get("TXPIPE_REFERENCE_DIR", REPO_ROOT / "data" / "reference")),
            sources_dir=Path(env.get("TXPIPE_SOURCES_DIR", REPO_ROOT / "data" / "sources")),
            expectations_dir=Path(env.get("TXPIPE_EXPECTATIONS_DIR", REPO_ROOT / "expectations")),
            pseudonym_key=SecretStr(key) if (key := env.get("TXPIPE_PSEUDONYM_KEY")) else None,
            chunk_rows=_positive_int(env, "TXPIPE_CHUNK_ROWS", CHUNK_ROWS),
            limits=ReadLimits.from_env(env),
            workers=_positive_int(env, "TXPIPE_WORKERS", os.cpu_count() or 1),
            build_memory=env.get("TXPIPE_DUCKDB_MEMORY") or BUILD_MEMORY_LIMIT,
            max_quarantine_share=_share(env, "TXPIPE_MAX_QUARANTINE_SHARE", DEFAULT_MAX_QUARANTINE_SHARE),
            nightly_cron=env.get("TXPIPE_NIGHTLY_CRON") or None,
            weekly_cron=env.get("TXPIPE_WEEKLY_CRON") or None,
            store=_store(env),
            s3_endpoint=_endpoint(env),
            sweep_grace=_number(
                env, "TXPIPE_SWEEP_GRACE", DEFAULT_SWEEP_GRACE, float, lambda v: v >= 0, "seconds, 0 or more"
            ),
        )

    def pseudonym_secret(self) -> str | None:
        """The pseudonym key itself, for the one object that uses it (ingest.pseudonym.Pseudonymizer)."""
        return self.pseudonym_key.get_secret_value() if self.pseudonym_key else None

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


def unwritable_folder(folder: Path, name: str = "TXPIPE_HOME") -> str | None:
    """Why txpipe cannot write in ``folder`` (named ``name`` in the reason), or None. It tries: the folder is
    made if missing and a nameless file is opened in it, so what decides is the system (permissions, a
    read-only mount, a path through a regular file), as for the writes that would follow; a folder that
    root may write despite its mode passes. The reason names the folder (configuration, not data)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"{name} {folder} is not a writable folder ({error.strerror or type(error).__name__})"
    return None


def parse_store(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://BUCKET/PREFIX``; a ValueError saying what it must be (never the value)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("TXPIPE_STORE must be s3://BUCKET/PREFIX")
    return parts.netloc, parts.path.strip("/")


def _store(env: Mapping[str, str]) -> str | None:
    url = env.get("TXPIPE_STORE") or None
    if url is not None:
        parse_store(url)
    return url


def _endpoint(env: Mapping[str, str]) -> str | None:
    url = env.get("TXPIPE_S3_ENDPOINT") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
            raise ValueError("TXPIPE_S3_ENDPOINT must be http://host:port or https://host:port")
    return url


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    return _number(env, name, default, int, lambda v: v >= 1, "a whole number, at least 1")


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, lambda v: 0 <= v <= 1, "a number between 0 and 1")


def _number(
    env: Mapping[str, str], name: str, default: N, parse: Callable[[str], N], ok: Callable[[N], bool], what: str
) -> N:
    """The variable ``name`` as a number, ``default`` when unset or empty; a wrong value is a ValueError that
    names the variable and what it must be, never the value."""
    text = env.get(name)
    if not text:
        return default
    try:
        value = parse(text)
    except ValueError:
        raise ValueError(f"{name} must be {what}, got a value that is not a number") from None
    if not ok(value):
        raise ValueError(f"{name} must be {what}")
    return value
