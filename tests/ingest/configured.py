"""Ingest a source's files under a source config written by the test (TXPIPE_SOURCES_DIR in tmp_path)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ingest_all, read_parquet_rows
from txpipe.settings import Settings
from txpipe.store.ledger import DeliveryRecord


def ingest_with_config(
    landing: Path, tmp_path: Path, monkeypatch, config: str, files: dict[str, str | bytes], source: str = "pko"
) -> tuple[list[DeliveryRecord], dict[str, dict], list[dict]]:
    """The ledger records, the stored rows by source_record_id, and the quarantined rows."""
    configs = tmp_path / "sources"
    configs.mkdir(exist_ok=True)
    (configs / f"{source}.toml").write_text(config, encoding="utf-8")
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(configs))
    for name, content in files.items():
        path = landing / source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    settings = Settings.from_env()
    records = ingest_all(settings, landing)
    by_id = {r["source_record_id"]: r for r in read_parquet_rows(settings.participation_dir)}
    return records, by_id, read_parquet_rows(settings.quarantine_dir)
