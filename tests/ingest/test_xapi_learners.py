"""Issue 24, item 2: the learner key is typed and unambiguous (README "xAPI sources", Records): two
accounts that `homePage|name` wrote alike, or an mbox and an openid of the same text, are two
learners; the roster's documented forms map to the same typed key, a `|` inside an account's
homePage or name is written `\\|` there, and an ambiguous roster line rejects the export with its row,
never its value."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import examples
from txpipe.ingest.readers import UnreadableFile
from txpipe.ingest.readers.xapi import read_roster
from txpipe.ingest.xapi_statements import ADL, XapiConfig, landing_rows, participations
from txpipe.settings import ReadLimits

DATA = Path(__file__).resolve().parents[1] / "data" / "xapi"
COURSE = "https://example.org/courses/gender-awareness"


def attended(actor: dict) -> dict:
    return {
        "actor": actor,
        "verb": {"id": ADL + "attended"},
        "object": {"id": COURSE},
        "timestamp": "2024-03-04T10:00:00Z",
    }


def learners(*actors: dict) -> list[str]:
    return [r.learner for r in participations(enumerate(map(attended, actors), start=1)).records]


def test_two_accounts_that_homepage_bar_name_wrote_alike_are_two_learners():
    one = {"account": {"homePage": "https://lms.example|x", "name": "alice"}}
    two = {"account": {"homePage": "https://lms.example", "name": "x|alice"}}
    keys = learners(one, two)
    assert len(keys) == 2 and len(set(keys)) == 2


def test_an_mbox_and_an_openid_of_the_same_text_are_two_learners():
    assert len(set(learners({"mbox": "mailto:a@b.example"}, {"openid": "mailto:a@b.example"}))) == 2


def test_the_typed_keys_as_documented():
    from txpipe.ingest.xapi_statements import LEARNER_KEY_VERSION, learner_id

    assert LEARNER_KEY_VERSION == 2
    assert learner_id({"mbox": " mailto:a@b.example "}) == "mbox:mailto:a@b.example"
    assert learner_id({"mbox_sha1sum": "CD9B00A5611F94EAA7B1661EDAB976068E364975"}) == (
        "mbox_sha1sum:cd9b00a5611f94eaa7b1661edab976068e364975"
    )
    assert learner_id({"openid": "http://openid.example.org/12345"}) == "openid:http://openid.example.org/12345"
    account = {"account": {"homePage": "https://lms.example|x\\", "name": "a|b"}}
    assert learner_id(account) == "account:https://lms.example\\|x\\\\|a\\|b"


def _roster(tmp_path: Path, *lines: str) -> dict[str, str]:
    (tmp_path / "roster.csv").write_text("\n".join(["learner,nation", *lines]) + "\n", encoding="utf-8")
    return read_roster(tmp_path, "roster.csv", ReadLimits())


def test_the_roster_forms_give_the_nations_of_the_real_exports_learners(tmp_path):
    """The conformance suite's learners: account, mbox and openid (tests/data/xapi/NOTICE.md)."""
    statements = json.loads((DATA / "adl-conformance-1.json").read_text(encoding="utf-8"))
    roster = _roster(
        tmp_path,
        "http://www.example.com|xAPI account name,GEO",
        "mailto:xapi@adlnet.gov,MDA",
        "http://openid.example.org/12345,UKR",
        "mailto:http://openid.example.org/12345,ARM",  # an mbox of the openid's text: not the openid learner
    )
    outcome = participations(enumerate(statements, start=1))
    rows = list(landing_rows(outcome, XapiConfig(), {}, lambda key: hashlib.sha256(key.encode()).hexdigest(), roster))
    assert sorted(row["nation"] for row in rows) == ["GEO", "MDA", "UKR"]
    assert {row["participant_ref"].split(":", 1)[0] for row in rows} == {"account", "mbox", "openid"}


def test_a_roster_sha1_in_any_case_is_the_mbox_sha1sum_learner(tmp_path):
    sha1 = "cd9b00a5611f94eaa7b1661edab976068e364975"
    roster = _roster(tmp_path, f"{sha1.upper()},GEO")
    [key] = learners({"mbox_sha1sum": sha1})
    assert roster == {key: "GEO"}


def test_a_bar_inside_a_roster_account_is_written_escaped(tmp_path):
    one = {"account": {"homePage": "https://lms.example|x", "name": "alice"}}
    two = {"account": {"homePage": "https://lms.example", "name": "x|alice"}}
    three = {"account": {"homePage": "https://lms.example", "name": "DOMAIN\\bob"}}
    roster = _roster(
        tmp_path,
        "https://lms.example\\|x|alice,GEO",
        "https://lms.example|x\\|alice,MDA",
        "https://lms.example|DOMAIN\\bob,UKR",  # a backslash before anything else stands for itself
    )
    key_one, key_two, key_three = learners(one, two, three)
    assert roster == {key_one: "GEO", key_two: "MDA", key_three: "UKR"}


@pytest.mark.parametrize(
    "line", ["https://lms.example|x|secretname,GEO", "https://lms.example\\|secretname,GEO"], ids=["two-bars", "none"]
)
def test_an_ambiguous_roster_account_rejects_the_export_with_its_row_not_its_value(tmp_path, line):
    with pytest.raises(UnreadableFile) as caught:
        _roster(tmp_path, "mailto:a@b.example,MDA", line)
    message = str(caught.value)
    assert "row 3" in message and "\\|" in message
    assert "secretname" not in message and "lms.example" not in message


# The property: typed keys never merge two learners, and every roster form reaches its learner.

TEXT = st.text(st.sampled_from("ab|\\: /.@x"), min_size=1, max_size=8).filter(lambda t: t.strip() == t)
ACTORS = st.one_of(
    st.tuples(st.just("mbox"), TEXT.map(lambda t: "mailto:" + t)),
    st.tuples(st.just("openid"), TEXT),
    st.tuples(st.just("mbox_sha1sum"), st.text("0123456789abcdef", min_size=40, max_size=40)),
    st.tuples(st.just("account"), st.tuples(TEXT, TEXT)),
)


def _actor(kind: str, value) -> dict:
    if kind == "account":
        return {"account": {"homePage": value[0], "name": value[1]}}
    return {kind: value}


@settings(max_examples=examples(300), deadline=None)
@given(ACTORS, ACTORS)
def test_learner_keys_collide_only_for_the_same_identifier(one, two):
    from txpipe.ingest.xapi_statements import learner_id

    assert (learner_id(_actor(*one)) == learner_id(_actor(*two))) == (one == two)


def _roster_form(kind: str, value) -> str:
    if kind != "account":
        return value
    home, name = (part.replace("\\", "\\\\").replace("|", "\\|") for part in value)
    return f"{home}|{name}"


@settings(max_examples=examples(200), deadline=None)
@given(ACTORS)
def test_every_roster_form_reaches_its_learner(tmp_path_factory, actor):
    kind, value = actor
    if kind == "openid" and ("|" in value or value.startswith("mailto:")):
        return  # such an openid has no roster form (README: an openid URL holds no |, starts with no mailto:)
    folder = tmp_path_factory.mktemp("roster")
    form = _roster_form(kind, value)
    quoted = '"' + form.replace('"', '""') + '"'
    [key] = learners(_actor(kind, value))
    assert _roster(folder, f"{quoted},GEO") == {key: "GEO"}
