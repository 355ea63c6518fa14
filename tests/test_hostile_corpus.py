"""The hostile-input corpus (tests/hostile/): every file has a hand-written expected outcome.

No file crashes the run; each is stored or rejected as expected with a specific reason; every
quarantined row is named by its row and rules; the row accounting holds for every file; and the
control file delivered in the same run is untouched by its neighbours.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ingest_all, read_parquet_rows
from txpipe.settings import Settings

CORPUS = Path(__file__).parent / "hostile"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    landing = root / "landing"
    shutil.copytree(CORPUS / "landing", landing)
    mp = pytest.MonkeyPatch()
    mp.setenv("TXPIPE_HOME", str(root / "home"))
    mp.setenv("TXPIPE_SOURCES_DIR", str(CORPUS / "sources"))
    mp.setenv("TXPIPE_PSEUDONYM_KEY", "hostile")
    settings = Settings.from_env()
    records = {f"{r.source}/{r.source_file}": r for r in ingest_all(settings, landing)}
    quarantine = read_parquet_rows(settings.quarantine_dir)
    yield records, quarantine, settings
    mp.undo()


def test_corpus_size_and_every_file_accounted(outcome):
    records, _, _ = outcome
    assert len(EXPECTED) >= 40
    assert set(records) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_file_outcome(outcome, name):
    records, quarantine, settings = outcome
    record, expected = records[name], EXPECTED[name]
    assert record.status == expected["status"], record.reason
    assert record.rows_read == record.rows_stored + record.rows_quarantined + record.rows_duplicate
    if expected["status"] == "rejected":
        assert expected["reason"] in (record.reason or ""), record.reason
        assert record.files == [] and record.rows_stored == 0
        return
    for key in ("rows_read", "rows_stored", "rows_quarantined", "rows_duplicate"):
        assert getattr(record, key) == expected[key], key
    rows = {
        str(q["source_row"]): q["reasons"]
        for q in quarantine
        if (q["source"], q["source_file"]) == (record.source, record.source_file)
    }
    assert rows == expected["quarantine"]
    if "warnings" in expected:  # each stored row's own warnings, by source_row
        lake = read_parquet_rows(settings.participation_dir)
        assert {
            str(s["source_row"]): s["warnings"]
            for s in lake
            if s["source_file"] == record.source_file and s["source"] == record.source
        } == expected["warnings"]
    if "ignored" in expected:
        assert record.ignored_columns == expected["ignored"]
    if "ignored_count" in expected:
        assert len(record.ignored_columns) == expected["ignored_count"]
    stored = [f for f in record.files if f.startswith("participation/")]
    assert bool(stored) == (record.rows_stored > 0)
    assert all((settings.lake / f).exists() for f in record.files)
