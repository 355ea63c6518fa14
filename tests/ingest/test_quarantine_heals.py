"""Issue 24 (7): a quarantine that heals. The quarantine keeps its history, and each row says whether it
is current (its delivery counts, and no later delivery of its source holds its record); the deliveries
table counts current rows. A change to a source's config, its roster or the reference data has the
next run judge the source's held deliveries again from the landing, without re-delivery; ``reprocess``
does it on demand; a held delivery whose file is gone is left as it is and reported."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO_ROOT, ingest_all, row, write_csv
from txpipe.ingest.judgement import GONE
from txpipe.jobs.ingest_job import ingest_new
from txpipe.jobs.run_job import nothing_to_do, run_pipeline
from txpipe.outputs.validation_report import Standing, render
from txpipe.store.ledger import Ledger
from txpipe.warehouse.publish import publish_warehouse

UNKNOWN = "Ruritania"  # not a nation: quarantined nation_unknown until an alias maps it


@pytest.fixture
def local(settings, tmp_path):
    """Settings whose source configs and reference data are copies the test may change."""
    sources, reference = tmp_path / "sources", tmp_path / "reference"
    sources.mkdir()
    shutil.copytree(REPO_ROOT / "data" / "reference", reference)
    return dataclasses.replace(settings, sources_dir=sources, reference_dir=reference)


def _query(settings, sql: str) -> list[tuple]:
    warehouse, _ = publish_warehouse(settings)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _later(path, seconds: int) -> None:
    stamp = (1_700_000_000 + seconds) * 10**9
    os.utime(path, ns=(stamp, stamp))


def test_a_fixed_re_export_under_a_new_name_leaves_only_current_rows_counted(local, landing):
    first = write_csv(
        landing / "nso" / "export-1.csv",
        [
            row(source_record_id="R1", nation=UNKNOWN),
            row(source_record_id="R2", nation=UNKNOWN),
            row(source_record_id="R3", nation=UNKNOWN),
            row(source_record_id="R4"),
        ],
    )
    _later(first, 0)
    ingest_all(local, landing, run_id="first")
    second = write_csv(
        landing / "nso" / "export-2.csv",
        [row(source_record_id="R1"), row(source_record_id="R2", nation=UNKNOWN), row(source_record_id="R4")],
    )
    _later(second, 100)
    ingest_all(local, landing, run_id="second")

    rows = _query(local, "SELECT source_file, source_row, current FROM quarantine ORDER BY ALL")
    # R1 stored later, R2 quarantined again later: only export-2's R2 and export-1's R3 (never delivered again) stand
    assert rows == [
        ("export-1.csv", 2, False),  # source_row: the line (the header is line 1)
        ("export-1.csv", 3, False),
        ("export-1.csv", 4, True),
        ("export-2.csv", 3, True),
    ]
    counts = _query(local, "SELECT source_file, rows_quarantined, rows_quarantined_current FROM deliveries ORDER BY 1")
    assert counts == [("export-1.csv", 3, 1), ("export-2.csv", 1, 1)]
    standing = Standing.of(local.home / "warehouse" / "txpipe.duckdb")  # what the validation report counts
    assert sorted(standing.rows.values()) == [1, 1]
    assert sum(reasons.get("nation_unknown", 0) for reasons in standing.reasons.values()) == 2
    page = render(Ledger.of(local).records(), local.expectations_dir / "participation.json", standing)
    assert "quarantined rows still standing" in page


def _alias_config(local, mapping: str) -> None:
    (local.sources_dir / "nso.toml").write_text(f'[aliases.nation]\n"{UNKNOWN}" = "{mapping}"\n', encoding="utf-8")


def test_a_config_fix_judges_held_deliveries_again_without_re_delivery(local, landing):
    path = write_csv(
        landing / "nso" / "export.csv", [row(source_record_id="R1", nation=UNKNOWN), row(source_record_id="R2")]
    )
    [first] = ingest_all(local, landing, run_id="first")
    assert (first.rows_stored, first.rows_quarantined) == (1, 1)
    publish_warehouse(local)
    assert ingest_all(local, landing, run_id="idle") == []  # nothing changed: nothing judged again

    _alias_config(local, "GEO")
    previous = nothing_to_do(local, landing)
    assert previous is None  # a changed config is something to do
    [again] = ingest_all(local, landing, run_id="after the fix")
    assert (again.rows_stored, again.rows_quarantined, again.rejudged) == (2, 0, first.batch_id)
    assert again.received_at == first.received_at  # versions keep their order: received when the file was
    assert again.batch_id != first.batch_id
    records = {r.batch_id: r for r in Ledger.of(local).records()}
    assert records[first.batch_id].status == "superseded"
    assert _query(local, "SELECT source_record_id, nation FROM participation ORDER BY 1") == [
        ("R1", "GEO"),
        ("R2", "GEO"),
    ]
    assert _query(local, "SELECT current FROM quarantine") == [(False,)]  # history kept, no longer current
    assert path.exists()  # the landing is never touched
    assert ingest_all(local, landing, run_id="idle again") == []


def test_a_reference_change_judges_every_source_again(local, landing):
    write_csv(landing / "nso" / "export.csv", [row(source_record_id="R1", nation=UNKNOWN)])
    write_csv(landing / "ndc" / "export.csv", [row(source_record_id="R1")])
    ingest_all(local, landing, run_id="first")
    aliases = local.reference_dir / "nation_aliases.csv"
    aliases.write_text(aliases.read_text(encoding="utf-8") + f'{UNKNOWN},GEO,"test"\n', encoding="utf-8")
    again = ingest_all(local, landing, run_id="after the reference changed")
    assert sorted((r.source, r.rows_stored, r.rows_quarantined) for r in again) == [("ndc", 1, 0), ("nso", 1, 0)]


def test_a_held_delivery_whose_file_is_gone_is_left_and_reported(local, landing):
    path = write_csv(
        landing / "nso" / "export.csv", [row(source_record_id="R1", nation=UNKNOWN), row(source_record_id="R2")]
    )
    [first] = ingest_all(local, landing, run_id="first")
    path.unlink()
    _alias_config(local, "GEO")
    run = ingest_new(local, landing, run_id="after the fix")
    assert run.records == []
    assert [(s.path, s.reason) for s in run.skipped] == [("nso/export.csv", GONE)]
    assert {r.batch_id: r.status for r in Ledger.of(local).records()} == {first.batch_id: "stored"}
    assert _query(local, "SELECT source_record_id FROM participation") == [("R2",)]


def test_reprocess_judges_again_on_demand_only_the_sources_named(local, landing):
    write_csv(landing / "nso" / "export.csv", [row(source_record_id="R1")])
    write_csv(landing / "ndc" / "export.csv", [row(source_record_id="R1")])
    ingest_all(local, landing, run_id="first")
    run = ingest_new(local, landing, ["ndc"], run_id="reprocess", reprocess=True)
    assert [(r.source, r.status, r.rows_stored) for r in run.records] == [("ndc", "stored", 1)]
    assert run.rejudged == 1
    assert ingest_all(local, landing, run_id="idle") == []
    report = run_pipeline(local, landing, reprocess=True, run_id="whole")
    assert sorted(r.source for r in report.records) == ["ndc", "nso"]
    assert _query(local, "SELECT count(*) FROM participation") == [(2,)]
    assert _query(local, "SELECT status, count(*) FROM deliveries GROUP BY 1 ORDER BY 1") == [
        ("stored", 2),
        ("superseded", 3),  # each first delivery, and ndc's first judgement again
    ]


def test_a_rejected_judgement_again_leaves_the_stored_delivery_counting(local, landing):
    write_csv(landing / "nso" / "export.csv", [row(source_record_id="R1")])
    [first] = ingest_all(local, landing, run_id="first")
    (local.sources_dir / "nso.toml").write_text('[columns]\n"nation" = "no_such_column"\n', encoding="utf-8")
    [again] = ingest_all(local, landing, run_id="broken config")
    assert (again.status, again.kept) == ("rejected", first.batch_id)
    assert _query(local, "SELECT source_record_id FROM participation") == [("R1",)]
    assert ingest_all(local, landing, run_id="idle") == []  # the rejection is recorded: not tried every run


def test_the_alert_counts_the_quarantined_rows_that_still_stand(local, landing):
    ids = [f"R{i}" for i in range(4)]
    broken = write_csv(landing / "nso" / "export-1.csv", [row(source_record_id=i, nation=UNKNOWN) for i in ids])
    fixed = write_csv(landing / "nso" / "export-2.csv", [row(source_record_id=i) for i in ids])
    _later(broken, 0)
    _later(fixed, 100)  # the fix is the later version of every record
    report = run_pipeline(local, landing, run_id="one run")
    assert sorted(r.rows_quarantined for r in report.records) == [0, 4]  # as each file was judged
    assert report.problems == ()  # 4 of 8 rows (50%) as delivered, none still standing
    again = write_csv(landing / "nso" / "export-3.csv", [row(source_record_id="R9", nation=UNKNOWN)])
    _later(again, 200)
    report = run_pipeline(local, landing, run_id="two")
    assert report.problems and "1 of 1 rows quarantined" in report.problems[0]


XAPI = Path(__file__).resolve().parents[1] / "data" / "xapi"  # real ADL conformance statements (NOTICE.md)
LRS_CONFIG = """format = "xapi"
[xapi]
nation = "GEO"
[xapi.activities]
"http://www.example.com/meetings/occurances/34534" = "ADL-169"
"""


def test_a_void_in_a_later_export_judges_the_earlier_export_again(local, landing):
    (local.sources_dir / "lrs.toml").write_text(LRS_CONFIG, encoding="utf-8")
    folder = landing / "lrs"
    folder.mkdir()
    shutil.copy(XAPI / "adl-conformance-1.json", folder / "2024-01.json")
    [first] = ingest_all(local, landing, run_id="january")
    assert first.statements == {"read": 8, "used": 3, "ignored": 5, "quarantined": 0}
    assert first.voids == []
    before = _query(local, "SELECT count(*) FROM participation")

    shutil.copy(XAPI / "adl-conformance-2.jsonl", folder / "2024-02.jsonl")  # voids a statement of January's
    run = ingest_new(local, landing, run_id="february")
    by_file = {r.source_file: r for r in run.records}
    assert sorted(by_file) == ["2024-01.json", "2024-02.jsonl"] and run.rejudged == 1
    february, january = by_file["2024-02.jsonl"], by_file["2024-01.json"]
    assert len(february.voids) == 1 and january.rejudged == first.batch_id
    assert january.statements == {"read": 8, "used": 2, "ignored": 6, "quarantined": 0}  # still balanced
    assert january.balanced and february.balanced
    assert january.received_at == first.received_at
    # January: the account, mbox and openid learners attended the meeting; February voids the openid
    # learner's statement and holds the mbox learner's again (its version now counts)
    assert before == [(3,)]
    after = _query(local, "SELECT source_file, count(*) FROM participation GROUP BY 1 ORDER BY 1")
    assert after == [("2024-01.json", 1), ("2024-02.jsonl", 1)]
    assert ingest_all(local, landing, run_id="idle") == []  # settled: nothing stale is left


def test_a_roster_change_judges_the_source_s_exports_again(local, landing):
    config = LRS_CONFIG.replace('nation = "GEO"', 'roster = "roster.csv"')
    (local.sources_dir / "lrs.toml").write_text(config, encoding="utf-8")
    folder = landing / "lrs"
    folder.mkdir()
    shutil.copy(XAPI / "adl-conformance-1.json", folder / "2024-01.json")
    roster = folder / "roster.csv"
    roster.write_text("learner,nation\nmailto:xapi@adlnet.gov,GEO\n", encoding="utf-8")
    [first] = ingest_all(local, landing, run_id="first")
    assert (first.rows_stored, first.rows_quarantined) == (1, 2)  # the account and openid learners: no nation

    roster.write_text(roster.read_text(encoding="utf-8") + "http://openid.example.org/12345,ARM\n", encoding="utf-8")
    [again] = ingest_all(local, landing, run_id="roster grew")
    assert (again.rows_stored, again.rows_quarantined, again.rejudged) == (2, 1, first.batch_id)
    assert _query(local, "SELECT nation FROM participation ORDER BY 1") == [("ARM",), ("GEO",)]
    assert _query(local, "SELECT count(*) FILTER (WHERE current), count(*) FROM quarantine") == [(1, 3)]


def test_a_run_killed_between_the_writes_of_a_judgement_again_keeps_the_later_judgement(local, landing):
    write_csv(landing / "nso" / "export.csv", [row(source_record_id="R1", nation=UNKNOWN)])
    [first] = ingest_all(local, landing, run_id="first")
    _alias_config(local, "GEO")
    [again] = ingest_all(local, landing, run_id="again")
    path = local.ledger_dir / f"{first.batch_id}.json"  # records are never rewritten: the earlier still says stored
    assert '"stored"' in path.read_text(encoding="utf-8")
    fresh = Ledger.of(local)
    assert fresh.counting()[("nso", "export.csv")].batch_id == again.batch_id  # same received_at: judged later wins
    statuses = {r.batch_id: (r.status, r.superseded_by) for r in fresh.records()}
    assert statuses[first.batch_id] == ("superseded", again.batch_id)
