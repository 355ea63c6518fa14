"""Issue 24, items 1 and 3, on ADL's LRS conformance statements (tests/data/xapi/NOTICE.md): an object
that is not an activity (a StatementRef, a SubStatement, an Agent, a Group) is ignored, never made
into a record; a record whose own statements name no title takes the first title the export gives
its activity (README "xAPI sources")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ingest_all, read_parquet_rows
from txpipe.ingest.xapi_statements import ADL, participations
from txpipe.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data" / "xapi"
MEETING = "http://www.example.com/meetings/occurances/34534"  # the suite's activity (its spelling)
REF_TARGET = "8f87ccde-bb56-4c2e-ab83-44982ef22df0"  # the id the suite's StatementRef names


def export1() -> list[dict]:
    return json.loads((DATA / "adl-conformance-1.json").read_text(encoding="utf-8"))


def test_statementref_substatement_agent_and_group_objects_are_ignored_in_the_real_export():
    outcome = participations(enumerate(export1(), start=1))
    assert (outcome.read, outcome.used, outcome.ignored, outcome.quarantined) == (8, 3, 5, [])
    assert {r.activity for r in outcome.records} == {MEETING}
    assert sorted(p for r in outcome.records for p in r.positions) == [1, 6, 7]


@pytest.mark.parametrize(
    "target",
    [
        {"objectType": "StatementRef", "id": REF_TARGET},
        {"objectType": "SubStatement", "id": MEETING, "actor": {"mbox": "mailto:x@example.org"}},
        {"objectType": "Agent", "id": MEETING, "mbox": "mailto:x@example.org"},
        {"objectType": "Group", "id": MEETING, "member": []},
        {"objectType": "activity", "id": MEETING},  # objectType is case-sensitive: not "Activity"
        {"objectType": 5, "id": MEETING},
    ],
    ids=["statementref", "substatement-with-id", "agent-with-id", "group-with-id", "lower-case", "number"],
)
def test_an_object_that_is_not_an_activity_is_ignored_even_with_an_id(target):
    statement = {
        "actor": {"mbox": "mailto:x@example.org"},
        "verb": {"id": ADL + "attended"},
        "object": target,
        "timestamp": "2024-10-21T14:00:00Z",
    }
    outcome = participations([(1, statement)], activities={MEETING})
    assert (outcome.used, outcome.ignored, outcome.records) == (0, 1, [])


@pytest.mark.parametrize("object_type", [None, "Activity", "<absent>"])
def test_an_activity_is_an_object_without_objecttype_or_with_activity(object_type):
    target = {"id": MEETING} | ({} if object_type == "<absent>" else {"objectType": object_type})
    statement = {
        "actor": {"mbox": "mailto:x@example.org"},
        "verb": {"id": ADL + "attended"},
        "object": target,
        "timestamp": "2024-10-21T14:00:00Z",
    }
    assert participations([(1, statement)]).used == 1


def test_a_statementref_through_the_ingest_is_counted_ignored_not_quarantined(tmp_path, monkeypatch, landing):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "adl.toml").write_text(
        f'format = "xapi"\n[xapi]\nnation = "GEO"\n[xapi.activities]\n"{MEETING}" = "ADL-169"\n', encoding="utf-8"
    )
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(sources))
    settings = Settings.from_env()
    (landing / "adl").mkdir(parents=True)
    (landing / "adl" / "export.json").write_bytes((DATA / "adl-conformance-1.json").read_bytes())
    [record] = ingest_all(settings, landing)
    assert record.status == "stored", record.reason
    assert record.statements == {"read": 8, "used": 3, "ignored": 5, "quarantined": 0}
    assert (record.rows_read, record.rows_stored, record.rows_quarantined) == (3, 3, 0)
    assert record.quarantine_reasons == {}
    stored = read_parquet_rows(settings.lake / "participation")
    assert {row["activity_code"] for row in stored} == {"ADL-169"}
    assert {row["activity_title"] for row in stored} == {"example meeting"}  # item 3: from statement 1


# Item 3: the title of a record whose statements give none.


def test_a_record_without_a_title_of_its_own_takes_the_title_its_activity_has_in_the_export():
    records = {r.positions[0]: r for r in participations(enumerate(export1(), start=1)).records}
    # statement 1 names the activity "example meeting"; statements 6 and 7 (another learner each) do not
    assert {position: r.title for position, r in records.items()} == {
        1: "example meeting",
        6: "example meeting",
        7: "example meeting",
    }


def _about(verb: str, names: dict | None, who: str = "mailto:a@example.org", **extra) -> dict:
    target: dict = {"id": MEETING}
    if names is not None:
        target["definition"] = {"name": names}
    return {
        "actor": {"mbox": who},
        "verb": {"id": ADL + verb},
        "object": target,
        "timestamp": "2024-10-21T14:00:00Z",
        **extra,
    }


def test_the_first_statement_in_file_order_that_names_the_activity_wins():
    statements = [
        _about("attended", None),  # the record's own statements name nothing
        _about("experienced", {"fr": "Réunion"}, who="mailto:b@example.org", result={"score": {"scaled": 7}}),
        _about("viewed", {"de": "Treffen"}, who="mailto:c@example.org", id="d1"),  # voided below
        _about("viewed", {"fr": "Rencontre", "en-GB": "Gathering"}, who="mailto:c@example.org"),  # ignored verb
        _about("attended", {"en": "Meeting"}, who="mailto:d@example.org"),  # later: loses
        {
            "actor": {"mbox": "mailto:c@example.org"},
            "verb": {"id": ADL + "voided"},
            "object": {"objectType": "StatementRef", "id": "D1"},
            "timestamp": "2024-10-21T15:00:00Z",
        },
    ]
    outcome = participations(enumerate(statements, start=1))
    titles = {r.learner.rsplit(":", 1)[-1]: r.title for r in outcome.records}
    # statement 2 is quarantined (scaled 7) and statement 3 voided: neither names the activity; statement
    # 4 is ignored (viewed) but well formed, and the first to name it: its English name, by the language rule
    assert titles == {"a@example.org": "Gathering", "d@example.org": "Meeting"}


def test_a_record_keeps_its_own_title_before_the_exports():
    statements = [_about("viewed", {"en": "Export title"}), _about("attended", {"en": "Own title"})]
    [record] = participations(enumerate(statements, start=1)).records
    assert record.title == "Own title"


def test_a_cmi5_course_record_takes_a_title_its_grouping_activity_has_elsewhere_in_the_export():
    course = "https://example.org/courses/gender-awareness"
    unit = {"id": "https://example.org/courses/gender-awareness/au/1"}
    grouping = {"contextActivities": {"grouping": [{"id": course, "definition": {"name": {"en": "Gender"}}}]}}
    statements = [
        _about("viewed", None, context=grouping) | {"object": unit},
        _about("completed", None, context={"contextActivities": {"grouping": [{"id": course}]}}) | {"object": unit},
    ]
    [record] = participations(enumerate(statements, start=1), activities={course}).records
    assert (record.activity, record.title) == (course, "Gender")
