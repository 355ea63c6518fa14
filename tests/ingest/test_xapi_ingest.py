"""LRS exports through the ingest (README "xAPI sources"): every shape gives the same records, positions
and lines in the quarantine, statements recognised without a config, rosters, cmi5 courses by grouping,
re-delivery, and a file that is wrong rejected with the reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ingest_all, kept_build_result, read_parquet_rows
from txpipe.settings import Settings
from txpipe.store.ledger import Ledger

ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/adl/verbs/"
COURSE = "https://example.org/courses/gender-awareness"
NATION = "https://example.org/xapi/extensions/nation"
ALICE = {"name": "Alice Example", "mbox": "mailto:alice@example.org"}
BOB = {"name": "Bob Example", "account": {"homePage": "https://lms.example.org", "name": "bob-42"}}
CONFIG = f'''format = "xapi"
[xapi]
nation_extension = "{NATION}"
[xapi.activities]
"{COURSE}" = "ADL-169"
[defaults]
provider = "JADL"
'''


def statement(verb: str, actor=ALICE, when="2024-03-04T10:00:00Z", target=COURSE, nation="GEO", **extra) -> dict:
    s = {
        "actor": actor,
        "verb": {"id": verb},
        "timestamp": when,
        "object": {"id": target, "definition": {"name": {"en-US": "Gender awareness"}}},
        "context": {"extensions": {NATION: nation}},
        **extra,
    }
    return s


STATEMENTS = [
    statement(CMI5 + "launched", id="s1"),
    statement(
        CMI5 + "failed",
        when="2024-03-04T11:00:00Z",
        result={"success": False, "score": {"raw": 4, "min": 0, "max": 10}},
    ),
    statement(ADL + "answered"),
    "not a statement",
    statement(CMI5 + "passed", when="2024-03-06T01:00:00+03:00", result={"success": True, "score": {"scaled": 0.8}}),
    statement(ADL + "attended", actor=BOB, nation="ARM", id="b1"),
    statement(ADL + "passed", actor=BOB, result={"success": False}),  # contradicts itself
    statement(ADL + "voided", actor=BOB, target="b1", when="2024-03-09T00:00:00Z")
    | {"object": {"objectType": "StatementRef", "id": "b1"}},
    statement(ADL + "completed", actor=BOB, when="2024-03-08T00:00:00Z", nation="ARM"),
]


@pytest.fixture
def xapi_settings(tmp_path, monkeypatch) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "lrs.toml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(sources))
    return Settings.from_env()


def _write(landing: Path, name: str, text: str, source: str = "lrs") -> None:
    (landing / source).mkdir(parents=True, exist_ok=True)
    (landing / source / name).write_text(text, encoding="utf-8")


def _lake(settings: Settings, source_file: str, zone: str) -> list[dict]:
    """The lake rows of the file's delivery that counts (its exports' voids may have had another export of
    the source judged again: the superseded judgement's files stay in the lake)."""
    counting = {r.batch_id for r in Ledger.of(settings).counting().values()}
    rows = [
        r
        for r in read_parquet_rows(settings.lake / zone)
        if r["source_file"] == source_file and r["batch_id"] in counting
    ]
    return sorted(
        ({k: v for k, v in r.items() if k not in ("batch_id", "source_file", "ingested_at", "run_id")} for r in rows),
        key=lambda r: r["source_row"],
    )


def test_every_shape_gives_the_same_records(xapi_settings, landing):
    page = {"statements": STATEMENTS, "more": ""}
    _write(landing, "array.json", json.dumps(STATEMENTS))
    _write(landing, "lines.jsonl", "\n".join(json.dumps(s) for s in STATEMENTS) + "\n")
    _write(landing, "page.json", json.dumps(page, indent=2))  # one page over many lines
    _write(
        landing,
        "pages.json",
        json.dumps([{"statements": STATEMENTS[:4], "more": "/x?page=2"}, {"statements": STATEMENTS[4:], "more": ""}]),
    )
    _write(
        landing,
        "pages.jsonl",
        json.dumps({"statements": STATEMENTS[:4]}) + "\n" + json.dumps({"statements": STATEMENTS[4:]}) + "\n",
    )
    records = {r.source_file: r for r in ingest_all(xapi_settings, landing)}
    assert set(records) == {"array.json", "lines.jsonl", "page.json", "pages.json", "pages.jsonl"}
    for record in records.values():
        assert record.status == "stored", record.reason
        assert record.statements == {"read": 9, "used": 4, "ignored": 3, "quarantined": 2}
        assert record.quarantine_reasons == {"xapi_passed_but_unsuccessful": 1, "xapi_statement_not_object": 1}
        assert (record.rows_read, record.rows_stored, record.rows_quarantined) == (4, 2, 2)
    stored = _lake(xapi_settings, "array.json", "participation")
    for name in records:
        assert _lake(xapi_settings, name, "participation") == stored
        assert [(q["source_row"], q["reasons"]) for q in _lake(xapi_settings, name, "quarantine")] == [
            (4, ["xapi_statement_not_object"]),
            (7, ["xapi_passed_but_unsuccessful"]),
        ]
    alice, bob = stored
    assert (alice["source_row"], alice["status"], alice["start_date"].isoformat(), alice["end_date"].isoformat()) == (
        1,
        "passed",
        "2024-03-04",
        "2024-03-05",
    )  # 01:00 at +03:00 is the 5th in UTC
    assert (alice["score"], alice["nation"], alice["activity_code"], alice["provider"]) == (
        80.0,
        "GEO",
        "ADL-169",
        "JADL",
    )
    assert (alice["programme"], alice["delivery_mode"], alice["role"]) == ("training", "online", "student")
    # Bob's attended statement is voided: his record is the completed one alone
    assert (bob["source_row"], bob["status"], bob["start_date"].isoformat(), bob["nation"]) == (
        9,
        "completed",
        "2024-03-08",
        "ARM",
    )


def test_json_lines_quarantine_names_position_and_line(xapi_settings, landing):
    lines = [json.dumps(STATEMENTS[0]), "", "{broken", json.dumps(statement(ADL + "attended", when="yesterday"))]
    _write(landing, "export.jsonl", "\n".join(lines) + "\n")
    [record] = ingest_all(xapi_settings, landing)
    assert record.statements == {"read": 3, "used": 1, "ignored": 0, "quarantined": 2}
    quarantined = _lake(xapi_settings, "export.jsonl", "quarantine")
    assert [(q["source_row"], q["reasons"]) for q in quarantined] == [
        (2, ["json_line_malformed"]),
        (3, ["xapi_timestamp_invalid"]),
    ]
    problems = [json.loads(q["offending_values"])["problem"] for q in quarantined]
    assert "line 3" in problems[0] and problems[1].startswith("statement 3 (line 4)")
    assert all("yesterday" not in p and "broken" not in p for p in problems)


def test_a_voiding_statement_before_or_after_its_target_in_json_lines(xapi_settings, landing):
    target = statement(ADL + "passed", id="t-1", result={"success": True})
    void = statement(ADL + "voided", when="2024-03-09T00:00:00Z") | {
        "object": {"objectType": "StatementRef", "id": "t-1"}
    }
    keep = statement(ADL + "attended", when="2024-03-02T00:00:00Z")
    _write(landing, "after.jsonl", "\n".join(json.dumps(s) for s in (keep, target, void)))
    _write(landing, "before.jsonl", "\n".join(json.dumps(s) for s in (void, keep, target)))
    for record in ingest_all(xapi_settings, landing):
        assert record.statements == {"read": 3, "used": 1, "ignored": 2, "quarantined": 0}
        [row] = _lake(xapi_settings, record.source_file, "participation")
        assert (row["status"], row["end_date"].isoformat()) == ("attended", "2024-03-02")


def test_statements_are_recognised_without_a_config_and_unmapped_activities_quarantined(xapi_settings, landing):
    unmapped = "https://example.org/courses/not-in-the-map"
    _write(landing, "export.json", json.dumps([statement(ADL + "completed", target=unmapped)]), source="elearning")
    [record] = ingest_all(xapi_settings, landing)
    assert record.status == "stored" and record.statements["used"] == 1
    [row] = _lake(xapi_settings, "export.json", "quarantine")
    assert "activity_code_malformed" in row["reasons"]
    assert json.loads(row["offending_values"])["activity_code"] == unmapped  # the IRI, so the map can be completed


def test_cmi5_units_count_for_the_mapped_course_in_their_grouping(xapi_settings, landing):
    def unit(verb: str, number: int, when: str, registration: str, **extra) -> dict:
        return statement(
            verb,
            target=f"{COURSE}/au/{number}",
            when=when,
            context={
                "registration": registration,
                "contextActivities": {"grouping": [{"id": COURSE}]},
                "extensions": {NATION: "GEO"},
            },
            **extra,
        )

    _write(
        landing,
        "cmi5.jsonl",
        "\n".join(
            json.dumps(s)
            for s in (
                unit(CMI5 + "launched", 1, "2024-01-01T00:00:00Z", "r1"),
                unit(CMI5 + "completed", 2, "2024-01-02T00:00:00Z", "r1"),
                unit(CMI5 + "abandoned", 1, "2024-02-01T00:00:00Z", "r2"),
            )
        ),
    )
    ingest_all(xapi_settings, landing)
    rows = _lake(xapi_settings, "cmi5.jsonl", "participation")
    assert [
        (r["activity_code"], r["status"], r["start_date"].isoformat(), r["end_date"].isoformat()) for r in rows
    ] == [("ADL-169", "completed", "2024-01-01", "2024-01-02"), ("ADL-169", "attended", "2024-02-01", "2024-02-01")]


def test_a_later_export_supersedes_with_the_same_record_ids(xapi_settings, landing):
    _write(landing, "export.jsonl", json.dumps(statement(ADL + "attended")) + "\n")
    ingest_all(xapi_settings, landing)
    [first] = _lake(xapi_settings, "export.jsonl", "participation")
    _write(
        landing,
        "export.jsonl",
        json.dumps(statement(ADL + "attended"))
        + "\n"
        + json.dumps(statement(ADL + "passed", when="2024-04-01T00:00:00Z", result={"success": True}))
        + "\n",
    )
    ingest_all(xapi_settings, landing)
    rows = _lake(xapi_settings, "export.jsonl", "participation")
    assert {r["source_record_id"] for r in rows} == {first["source_record_id"]}
    assert "alice" not in first["source_record_id"] and len(first["source_record_id"]) == 64


def test_nation_from_the_roster_and_the_roster_is_not_a_delivery(xapi_settings, landing):
    (xapi_settings.sources_dir / "lrs.toml").write_text(
        CONFIG.replace(f'nation_extension = "{NATION}"', 'roster = "roster.csv"')
    )
    _write(landing, "roster.csv", "Learner,Nation\nmailto:alice@example.org,MDA\nhttps://lms.example.org|bob-42,UKR\n")
    _write(landing, "export.json", json.dumps([statement(ADL + "attended"), statement(ADL + "attended", actor=BOB)]))
    [record] = ingest_all(xapi_settings, landing)
    assert record.source_file == "export.json"
    assert [r["nation"] for r in _lake(xapi_settings, "export.json", "participation")] == ["MDA", "UKR"]


@pytest.mark.parametrize(
    "roster,reason",
    [
        (None, "is not in the source folder"),
        ("learner,country\nmailto:alice@example.org,MDA\n", "needs the columns learner and nation"),
        (
            "learner,nation\nmailto:alice@example.org,MDA\nmailto:alice@example.org,UKR\n",
            "rows 2 and 3 give one learner two nations",
        ),
        ("link", "is not a regular file"),
    ],
)
def test_a_roster_that_is_missing_or_wrong_rejects_the_export(xapi_settings, landing, tmp_path, roster, reason):
    (xapi_settings.sources_dir / "lrs.toml").write_text(
        CONFIG.replace(f'nation_extension = "{NATION}"', 'roster = "roster.csv"')
    )
    _write(landing, "export.json", json.dumps([statement(ADL + "attended")]))
    if roster == "link":
        outside = tmp_path / "outside.csv"
        outside.write_text("learner,nation\nmailto:alice@example.org,MDA\n")
        os.symlink(outside, landing / "lrs" / "roster.csv")
    elif roster is not None:
        _write(landing, "roster.csv", roster)
    [record] = ingest_all(xapi_settings, landing)
    assert record.status == "rejected" and reason in record.reason
    assert "alice" not in record.reason


def test_an_xapi_source_delivers_json(xapi_settings, landing):
    _write(landing, "export.csv", "actor,verb,object\n1,2,3\n")
    [record] = ingest_all(xapi_settings, landing)
    assert record.status == "rejected" and "JSON or JSON Lines" in record.reason


def test_a_broken_array_is_rejected_and_an_empty_one_counts_nothing(xapi_settings, landing):
    _write(landing, "broken.json", '[{"actor": {"mbox": "mailto:alice@example.org"}, ')
    _write(landing, "empty.json", "[]")
    records = {r.source_file: r for r in ingest_all(xapi_settings, landing)}
    assert records["broken.json"].status == "rejected" and "broken JSON" in records["broken.json"].reason
    assert records["empty.json"].status == "stored"
    assert records["empty.json"].statements == {"read": 0, "used": 0, "ignored": 0, "quarantined": 0}


def test_the_run_report_counts_the_statements_of_each_export(xapi_settings, landing):
    from txpipe.outputs.reports import run_report_markdown

    _write(landing, "export.json", json.dumps(STATEMENTS))
    _write(landing, "more.jsonl", json.dumps(STATEMENTS[0]) + "\n")
    markdown = run_report_markdown(ingest_all(xapi_settings, landing), kept_build_result())
    assert "## xAPI statements (read = used + ignored + quarantined)" in markdown
    assert "| lrs | export.json | 9 | 4 | 3 | 2 |" in markdown and "| lrs | more.jsonl | 1 | 1 | 0 | 0 |" in markdown


def test_json_lines_with_a_broken_first_line_is_not_read_whole(xapi_settings, landing, monkeypatch):
    """Only a first line that stops before its value ends (a document over several lines) makes the
    reader try the whole file as one document: a broken line of a big export does not load it all."""
    import txpipe.ingest.readers.xapi as reader

    whole = []
    monkeypatch.setattr(reader, "_document", lambda *a, **k: whole.append(a) or None)
    _write(landing, "export.jsonl", '{"actor": x}\n' + json.dumps(STATEMENTS[0]) + "\n")
    [record] = ingest_all(xapi_settings, landing)
    assert whole == [] and record.statements == {"read": 2, "used": 1, "ignored": 0, "quarantined": 1}
