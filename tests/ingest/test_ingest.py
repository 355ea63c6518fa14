"""Ingesting whole deliveries: row accounting, planted defects, re-runs, re-deliveries, rejections."""

from __future__ import annotations

import collections
import json
import re
import shutil

import pyarrow.parquet as pq
import pytest

from tests.conftest import SAMPLE_LANDING, ingest_all, read_parquet_rows, row, write_csv
from txpipe.ingest.landing import discover
from txpipe.ingest.suite import SuiteError, load_suite
from txpipe.samples.lrs import LRS_SOURCE
from txpipe.samples.rosters import generate, load_manifest
from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger


def assert_planted_defects_caught(settings, landing, records):
    """Every planted defect is in quarantine under its rule, and nothing else is; every planted warning
    is on its own stored row, and no other stored row carries one."""
    manifest = load_manifest(landing)
    quarantined = {
        (q["source"], q["source_file"], q["source_row"]): q["reasons"]
        for q in read_parquet_rows(settings.quarantine_dir)
        if q["source"] != LRS_SOURCE
    }
    expected = {
        (p.source, p.file, p.source_row): p.rule for p in manifest.planted if p.rule and p.severity == "critical"
    }
    warned = collections.defaultdict(list)
    for p in manifest.planted:
        if p.severity == "warning":
            warned[(p.source, p.file, p.source_row)].append(p.rule)
    stored = {
        (s["source"], s["source_file"], s["source_row"]): s["warnings"]
        for s in read_parquet_rows(settings.participation_dir)
        if s["warnings"] and s["source"] != LRS_SOURCE
    }
    assert warned, "the generator planted no warnings"
    assert {k: sorted(v) for k, v in stored.items()} == {k: sorted(v) for k, v in warned.items()}
    for key, rule in expected.items():
        assert key in quarantined, f"planted {rule} at {key} was not quarantined"
        assert rule in quarantined[key], f"{key}: expected {rule}, got {quarantined[key]}"
    assert set(quarantined) == set(expected), f"unexpected quarantine: {set(quarantined) - set(expected)}"
    duplicates = collections.Counter(p.file for p in manifest.planted if p.defect == "exact_duplicate")
    for record in records:
        if record.status == "stored":
            assert record.rows_duplicate == duplicates.get(record.source_file, 0), record.source_file


def test_every_sample_file_balances_and_planted_defects_land_in_quarantine(settings):
    records = ingest_all(settings, SAMPLE_LANDING)
    assert len(records) == 14
    for record in records:
        assert record.rows_read == record.rows_stored + record.rows_quarantined + record.rows_duplicate, record
    [rejected] = [r for r in records if r.status == "rejected"]
    assert rejected.source_file == "jadl_legacy_export.csv" and "missing required column(s) nation" in rejected.reason
    assert rejected.files == [] and rejected.rows_stored == 0
    assert_planted_defects_caught(settings, SAMPLE_LANDING, records)
    stored = read_parquet_rows(settings.participation_dir)
    assert len(stored) == sum(r.rows_stored for r in records)
    assert {r.status for r in records} == {"stored", "rejected"}
    assert_lrs_defects_caught(settings, SAMPLE_LANDING, records)


def assert_lrs_defects_caught(settings, landing, records):
    """The sample LRS export: every statement accounted for, every planted defect quarantined at its
    statement (one per line, so its position is its line) under its rule, and nothing else from the
    statements quarantined."""
    manifest = json.loads((landing / ".txpipe-lrs.json").read_text(encoding="utf-8"))
    [export] = [r for r in records if r.source == "jadl-lrs"]
    assert export.status == "stored" and export.statements["read"] == manifest["statements"]
    assert export.statements["quarantined"] == len(manifest["planted"])
    quarantined = {
        q["source_row"]: q["reasons"]
        for q in read_parquet_rows(settings.quarantine_dir)
        if q["source"] == "jadl-lrs" and q["reasons"][0].startswith(("xapi_", "json_"))
    }
    assert quarantined == {line: [rule] for line, rule in manifest["planted"]}
    assert export.rows_stored > 0 and export.quarantine_reasons.keys() <= {rule for _, rule in manifest["planted"]}


@pytest.mark.parametrize("seed", [7, 8])
def test_generated_deliveries_with_many_defects(settings, tmp_path, reference, seed):
    landing = tmp_path / "generated"
    manifest = generate(landing, reference, rows=2500, seed=seed, defect_rate=0.15, files_per_source=2)
    assert {p.defect for p in manifest.planted} >= {
        "unknown_nation",
        "end_before_start",
        "unknown_status",
        "missing_participant_ref",
        "exact_duplicate",
        "conflicting_duplicate",
        "invalid_date",
        "score_out_of_range",
        "malformed_activity_code",
        "activity_not_in_catalogue",
    }
    records = ingest_all(settings, landing)
    assert all(r.balanced and r.status == "stored" for r in records)
    assert sum(r.rows_read for r in records) == sum(manifest.files.values())
    assert_planted_defects_caught(settings, landing, records)


def test_lake_files_have_one_schema_exact_paths_and_no_temporaries(settings, landing):
    write_csv(
        landing / "nso" / "a.csv",
        [
            row(),
            row(source_record_id="R2", start_date="2023-12-30", end_date="2024-01-02"),
            row(source_record_id="R3", programme="training"),
            row(source_record_id="R4", nation="Narnia"),
        ],
    )
    [record] = ingest_all(settings, landing)
    batch = record.batch_id
    assert all(re.fullmatch(r".*/[0-9a-f]+\.[0-9a-f]{12}\.parquet", name) for name in record.files)  # one per attempt
    assert sorted(re.sub(r"\.[0-9a-f]{12}\.parquet$", ".parquet", name) for name in record.files) == [
        f"participation/programme=education/year=2023/{batch}.parquet",
        f"participation/programme=education/year=2024/{batch}.parquet",
        f"participation/programme=training/year=2024/{batch}.parquet",
        f"quarantine/source=nso/{batch}.parquet",
    ]
    for name in record.files:
        schema = pq.read_schema(settings.lake / name)
        expected = QUARANTINE_SCHEMA if name.startswith("quarantine") else PARTICIPATION_SCHEMA
        assert schema.names == expected.names and schema.types == expected.types
    assert not [p for p in settings.lake.rglob("*") if p.name.startswith(".tmp-")]
    ledger = json.loads((settings.ledger_dir / f"{batch}.json").read_text())
    assert ledger["status"] == "stored" and ledger["rows_read"] == 4 and ledger["sha256"] == record.sha256


def test_second_run_stores_nothing_new(settings, landing):
    write_csv(landing / "nso" / "a.csv", [row()])
    assert len(ingest_all(settings, landing)) == 1
    assert ingest_all(settings, landing) == []
    assert len(read_parquet_rows(settings.participation_dir)) == 1


def test_redelivered_file_supersedes_the_earlier_delivery(settings, landing):
    path = write_csv(landing / "nso" / "a.csv", [row()])
    [first] = ingest_all(settings, landing)
    write_csv(path, [row(), row(source_record_id="R2")])
    [second] = ingest_all(settings, landing)
    assert second.batch_id != first.batch_id and second.rows_stored == 2
    by_id = {r.batch_id: r for r in Ledger.of(settings).records()}
    assert by_id[first.batch_id].status == "superseded" and by_id[first.batch_id].superseded_by == second.batch_id
    assert by_id[second.batch_id].status == "stored"
    assert discover(landing, Ledger.of(settings)) == []


def test_unreadable_file_is_rejected_whole_and_the_others_go_on(settings, landing):
    write_csv(landing / "nso" / "good.csv", [row()])
    write_csv(landing / "nso" / "no_status.csv", [{k: v for k, v in row().items() if k != "status"}])
    (landing / "nso" / "notes.pdf").write_bytes(b"%PDF-1.4")
    (landing / "jftc").mkdir()
    (landing / "jftc" / "broken.json").write_text('[{"source_record_id": "1",', encoding="utf-8")
    records = {r.source_file: r for r in ingest_all(settings, landing)}
    assert records["good.csv"].status == "stored" and records["good.csv"].rows_stored == 1
    assert (
        records["no_status.csv"].status == "rejected"
        and "missing required column(s) status" in records["no_status.csv"].reason
    )
    assert records["notes.pdf"].status == "rejected" and "unsupported file type '.pdf'" in records["notes.pdf"].reason
    assert records["broken.json"].status == "rejected" and records["broken.json"].reason.startswith("broken JSON")
    assert len(read_parquet_rows(settings.participation_dir)) == 1


def test_source_config_encoding_and_renames(settings, landing, tmp_path, monkeypatch):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "ptec.toml").write_text(
        'encoding = "latin-1"\ndate_order = "DMY"\n[columns]\n"Land" = "nation"\n[defaults]\nprogramme = "training"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(sources))
    data = {
        k: v for k, v in row(start_date="04.03.2024", end_date="08.03.2024").items() if k not in ("nation", "programme")
    }
    write_csv(landing / "ptec" / "r.csv", [{**data, "Land": "Türkiye"}], delimiter=";", encoding="latin-1")
    [record] = ingest_all(Settings.from_env(), landing)
    assert record.status == "stored", record.reason
    [stored] = read_parquet_rows(settings.participation_dir)
    assert stored["nation"] == "TUR" and stored["programme"] == "training" and str(stored["start_date"]) == "2024-03-04"


def test_suite_with_an_unknown_expectation_fails_loudly(tmp_path):
    shutil.copy(Settings.from_env().expectations_dir / "participation.json", tmp_path / "participation.json")
    suite = json.loads((tmp_path / "participation.json").read_text())
    suite["expectations"][0]["type"] = "expect_column_values_to_not_be_nul"
    (tmp_path / "participation.json").write_text(json.dumps(suite))
    n = len(suite["expectations"])
    with pytest.raises(SuiteError, match=f"{n} expectations in the file but GX loaded {n - 1}"):
        load_suite(tmp_path)
