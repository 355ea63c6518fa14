"""The synthetic LRS export generator (txpipe.samples.lrs): deterministic, realistic, streamed, and its
planted defects break exactly the README rule they are recorded under.

Statements are checked here against the README table ("xAPI sources (LRS exports)") by a check
written from that table alone, not with txpipe.ingest.xapi_statements, so that the generator and the reader are not
judged by the same code.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from txpipe.samples.lrs import NATION_EXTENSION, LrsManifest, lrs_source_config, write_lrs_export
from txpipe.settings import REPO_ROOT

CONFIG = REPO_ROOT / "data" / "sources" / "jadl-lrs.toml"
SAMPLE = REPO_ROOT / "data" / "sample" / "landing" / "jadl-lrs" / "jadl_lrs_export.jsonl"
COURSE = re.compile(r"^https://jadl\.example\.org/xapi/courses/([A-Z0-9-]+)$")
AU = re.compile(r"^https://jadl\.example\.org/xapi/courses/([A-Z0-9-]+)/au/([1-3])$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
VOIDED = "http://adlnet.gov/expapi/verbs/voided"

# -- an independent check of the README table ----------------------------------------------------
RULE_ORDER = (
    "json_line_malformed",
    "xapi_statement_not_object",
    "xapi_actor_missing",
    "xapi_verb_missing",
    "xapi_object_missing",
    "xapi_actor_group",
    "xapi_passed_but_unsuccessful",
    "xapi_failed_but_successful",
    "xapi_scaled_score_out_of_range",
    "xapi_timestamp_invalid",
)
ISO_8601 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?$")
# README "Verbs": the status a verb IRI stands for (ADL and cmi5 IRIs end in the verb itself).
STATUS = {
    "passed": "passed",
    "failed": "failed",
    "completed": "completed",
    "registered": "registered",
    **dict.fromkeys(
        (
            "launched",
            "initialized",
            "attempted",
            "attended",
            "experienced",
            "progressed",
            "resumed",
            "terminated",
            "abandoned",
        ),
        "attended",
    ),
}
STRENGTH = ("registered", "attended", "completed", "failed", "passed")


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def iso_8601(value) -> bool:
    match = ISO_8601.match(value) if isinstance(value, str) else None
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    try:
        dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def identifier(actor: dict) -> str | None:
    """The learner as README "Records" writes it."""
    if isinstance(actor.get("mbox"), str) and actor["mbox"].startswith("mailto:"):
        return actor["mbox"]
    if isinstance(actor.get("mbox_sha1sum"), str) and re.fullmatch(r"[0-9a-fA-F]{40}", actor["mbox_sha1sum"]):
        return actor["mbox_sha1sum"].lower()
    if isinstance(actor.get("openid"), str) and actor["openid"]:
        return actor["openid"]
    account = actor.get("account")
    if isinstance(account, dict) and isinstance(account.get("homePage"), str) and isinstance(account.get("name"), str):
        return f"{account['homePage']}|{account['name']}"
    return None


def verb_status(verb: dict) -> str | None:
    return STATUS.get(verb["id"].rstrip("/").rsplit("/", 1)[-1].lower())


def broken_rules(line: str) -> list[str]:
    """Every README rule the line breaks, in the table's order (the first is the one that counts)."""
    try:
        statement = json.loads(line)
    except ValueError:
        return ["json_line_malformed"]
    if not isinstance(statement, dict):
        return ["xapi_statement_not_object"]
    broken = []
    actor, verb, target = statement.get("actor"), statement.get("verb"), statement.get("object")
    if not isinstance(actor, dict) or (actor.get("objectType", "Agent") == "Agent" and identifier(actor) is None):
        broken.append("xapi_actor_missing")
    verb_ok = isinstance(verb, dict) and isinstance(verb.get("id"), str) and bool(verb["id"])
    if not verb_ok:
        broken.append("xapi_verb_missing")
    if not isinstance(target, dict):
        broken.append("xapi_object_missing")
    if isinstance(actor, dict) and actor.get("objectType") == "Group":
        broken.append("xapi_actor_group")
    result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
    status = verb_status(verb) if verb_ok else None
    if status == "passed" and result.get("success") is False:
        broken.append("xapi_passed_but_unsuccessful")
    if status == "failed" and result.get("success") is True:
        broken.append("xapi_failed_but_successful")
    score = result.get("score")
    scaled = score.get("scaled") if isinstance(score, dict) else None
    if isinstance(score, dict) and "scaled" in score and not (is_number(scaled) and -1 <= scaled <= 1):
        broken.append("xapi_scaled_score_out_of_range")
    if not iso_8601(statement.get("timestamp")):
        broken.append("xapi_timestamp_invalid")
    return broken


def utc(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.UTC)


def expected_records(lines: list[str], mapped: dict[str, str]) -> dict[tuple, str]:
    """(learner, activity, registration) -> status, by the README "Records" rules (voided removed)."""
    statements = [json.loads(line) for line in lines if not broken_rules(line)]
    voided = {s["object"]["id"] for s in statements if s["verb"]["id"] == VOIDED}
    records: dict[tuple, str] = {}
    for s in statements:
        if s["verb"]["id"] == VOIDED or s["id"] in voided or verb_status(s["verb"]) is None:
            continue
        activity = s["object"]["id"]
        if activity not in mapped:
            grouping = s.get("context", {}).get("contextActivities", {}).get("grouping", [])
            activity = next((g["id"] for g in grouping if g["id"] in mapped), activity)
        key = (identifier(s["actor"]), mapped.get(activity, activity), s.get("context", {}).get("registration"))
        status = verb_status(s["verb"])
        if key not in records or STRENGTH.index(status) > STRENGTH.index(records[key]):
            records[key] = status
    return records


# -- helpers -------------------------------------------------------------------------------------
def lines_of(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    return text[:-1].split("\n")


@pytest.fixture(scope="module")
def clean(tmp_path_factory, reference):
    path = tmp_path_factory.mktemp("lrs") / "clean.jsonl"
    manifest = write_lrs_export(path, reference, 6000, seed=11)
    return manifest, lines_of(path)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, reference):
    path = tmp_path_factory.mktemp("lrs") / "damaged.jsonl"
    manifest = write_lrs_export(path, reference, 6000, seed=11, defect_rate=0.25)
    return manifest, lines_of(path)


@pytest.fixture(scope="module")
def config():
    return tomllib.loads(CONFIG.read_text(encoding="utf-8"))


def online_codes(reference) -> set[str]:
    activities = reference.activities
    return set(activities.loc[activities["delivery_mode"] == "online", "activity_code"])


# -- tests ---------------------------------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, reference):
    a = write_lrs_export(tmp_path / "a.jsonl", reference, 3000, seed=5, defect_rate=0.1)
    b = write_lrs_export(tmp_path / "b.jsonl", reference, 3000, seed=5, defect_rate=0.1)
    c = write_lrs_export(tmp_path / "c.jsonl", reference, 3000, seed=6, defect_rate=0.1)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert dataclasses.replace(b, path=a.path) == a  # the same manifest, bar the path
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()
    assert a.planted != c.planted
    assert len(lines_of(tmp_path / "c.jsonl")) == c.statements == 3000


def test_defects_only_touch_their_own_lines(clean, damaged):
    """The content does not depend on defect_rate: the undamaged lines are the clean file's lines."""
    (_, clean_lines), (manifest, damaged_lines) = clean, damaged
    planted = {line for line, _ in manifest.planted}
    assert len(clean_lines) == len(damaged_lines) == 6000
    for number, (a, b) in enumerate(zip(clean_lines, damaged_lines, strict=False), start=1):
        assert (a == b) == (number not in planted), number


def test_at_zero_defect_rate_every_line_is_a_statement_that_breaks_no_rule(clean):
    manifest, lines = clean
    assert isinstance(manifest, LrsManifest)
    assert manifest.statements == len(lines) == 6000 and manifest.planted == []
    ids = set()
    for number, line in enumerate(lines, start=1):
        assert broken_rules(line) == [], (number, broken_rules(line), line[:300])
        statement = json.loads(line)
        assert UUID.match(statement["id"]) and statement["id"] not in ids
        ids.add(statement["id"])
        assert statement["actor"]["objectType"] == "Agent" and statement["actor"]["name"]
        assert set(statement["verb"]) == {"id", "display"} and statement["verb"]["display"]["en-US"]
        target = statement["object"]
        if statement["verb"]["id"] == VOIDED:
            assert target["objectType"] == "StatementRef" and target["id"] in ids  # voids an earlier statement
        else:
            assert target["objectType"] == "Activity"
            assert target["id"].startswith("https://jadl.example.org/xapi/courses/")
            assert target["definition"]["name"]["en-US"]


def test_planted_defects_break_exactly_the_stated_rule(damaged):
    manifest, lines = damaged
    planted = dict(manifest.planted)
    assert len(planted) == len(manifest.planted), "a line planted twice"
    assert set(planted.values()) == set(RULE_ORDER), "every rule of the README table is planted"
    assert 0.2 < len(planted) / len(lines) < 0.3
    for number, line in enumerate(lines, start=1):
        assert broken_rules(line) == ([planted[number]] if number in planted else []), (number, line[:300])
    # voiding statements and their targets are never damaged, so voiding means what it says
    voiding = [json.loads(line) for line in lines if VOIDED in line and not broken_rules(line)]
    assert len(voiding) == manifest.voiding > 0
    targets = {s["object"]["id"] for s in voiding if s["verb"]["id"] == VOIDED}
    found = {json.loads(line)["id"] for n, line in enumerate(lines, 1) if n not in planted and '"id":"' in line}
    assert targets <= found


def test_content_looks_like_an_lrs_export(clean, reference):
    manifest, lines = clean
    statements = [json.loads(line) for line in lines]
    assert manifest.learner_pool == 500 and 0 < manifest.learners <= manifest.learner_pool
    learners = {identifier(s["actor"]) for s in statements if s["verb"]["id"] != VOIDED}
    assert len(learners) == manifest.learners
    kinds = collections.Counter(
        next(k for k in ("mbox", "account", "mbox_sha1sum") if k in s["actor"]) for s in statements
    )
    assert kinds["mbox"] > kinds["account"] > kinds["mbox_sha1sum"] > 0
    assert all(
        s["actor"]["mbox"].endswith("@example.org")
        for s in statements
        if "mbox" in s["actor"] and s["verb"]["id"] != VOIDED
    )
    assert all(s["actor"]["account"]["homePage"].startswith("https://") for s in statements if "account" in s["actor"])
    verbs = collections.Counter(s["verb"]["id"].rsplit("/", 1)[-1] for s in statements)
    for verb in (
        "launched",
        "initialized",
        "experienced",
        "progressed",
        "answered",
        "played",
        "viewed",
        "completed",
        "passed",
        "failed",
        "terminated",
        "abandoned",
        "voided",
        "registered",
        "satisfied",
    ):
        assert verbs[verb], verb
    assert "https://w3id.org/xapi/video/verbs/played" in {s["verb"]["id"] for s in statements}
    stamps = [s["timestamp"] for s in statements]
    zulu = sum(t.endswith("Z") for t in stamps)
    assert 0.5 < zulu / len(stamps) < 1 and any(re.search(r"\+04:00$", t) for t in stamps)
    assert [utc(t) for t in stamps] == sorted(utc(t) for t in stamps), "an export ordered by time"
    assert any("fr-FR" in s["object"].get("definition", {}).get("name", {}) for s in statements)
    scores = [s["result"]["score"] for s in statements if "score" in s.get("result", {})]
    assert any(set(x) == {"scaled"} for x in scores) and any({"raw", "min", "max", "scaled"} <= set(x) for x in scores)
    for s in statements:
        if s["verb"]["id"].endswith(("/passed", "/failed")):
            passed = s["verb"]["id"].endswith("/passed")
            assert s["result"]["success"] is passed and (s["result"]["score"]["scaled"] >= 0.8) is passed
    # AU statements name their course and attempt; sequences as cmi5 writes them
    by_registration = collections.defaultdict(list)
    for s in statements:
        if s["verb"]["id"] == VOIDED:
            continue
        context = s["context"]
        assert UUID.match(context["registration"])
        (course,) = context["contextActivities"]["grouping"]
        code = COURSE.match(course["id"]).group(1)
        assert s["object"]["id"] == course["id"] or s["object"]["id"].startswith(course["id"] + "/au/")
        if AU.match(s["object"]["id"]):
            assert AU.match(s["object"]["id"]).group(1) == code
        assert context["extensions"][NATION_EXTENSION]
        by_registration[context["registration"]].append(s["verb"]["id"].rsplit("/", 1)[-1])
    assert len(by_registration) == manifest.registrations
    assert any(
        "failed" in v and "passed" in v and v.index("failed") < v.index("passed") for v in by_registration.values()
    ), "failed then passed in a later session"
    assert any("abandoned" in v for v in by_registration.values())
    assert any(v == ["registered"] for v in by_registration.values())
    assert any(v[0] == "launched" and v[-1] in ("terminated", "satisfied") for v in by_registration.values())
    attempts = collections.Counter(
        (identifier(s["actor"]), s["context"]["contextActivities"]["grouping"][0]["id"])
        for s in {s["context"]["registration"]: s for s in statements if s["verb"]["id"] != VOIDED}.values()
    )
    assert max(attempts.values()) >= 2, "some learners make two attempts"


def test_nations_are_reference_codes_weighted_to_partners(clean, reference):
    _, lines = clean
    nations = reference.nations.drop_duplicates("code", keep="last").set_index("code")
    seen = collections.Counter()
    for line in lines:
        statement = json.loads(line)
        if statement["verb"]["id"] != VOIDED:
            seen[statement["context"]["extensions"][NATION_EXTENSION]] += 1
    assert set(seen) <= set(reference.nation_codes)
    assert not {c for c in seen if nations.loc[c, "status"] == "suspended"}
    frameworks = collections.Counter(nations.loc[c, "framework"] for c in seen)
    assert frameworks["IO"] > 0 and sum(v for f, v in frameworks.items() if f != "ALLY") > frameworks["ALLY"]


def test_shipped_config_maps_the_online_catalogue(config, reference):
    assert CONFIG.read_text(encoding="utf-8") == lrs_source_config(reference), "regenerate the shipped config"
    assert config["format"] == "xapi" and config["defaults"] == {"provider": "JADL"}
    assert config["xapi"]["nation_extension"] == NATION_EXTENSION
    activities = config["xapi"]["activities"]
    assert set(activities.values()) == online_codes(reference)
    for iri, code in activities.items():
        assert COURSE.match(iri).group(1) == code


def test_shipped_sample_is_the_generators_output_and_fully_mapped(tmp_path, reference, config):
    manifest = write_lrs_export(tmp_path / "sample.jsonl", reference, 800, seed=2026, defect_rate=0.02)
    assert SAMPLE.read_bytes() == (tmp_path / "sample.jsonl").read_bytes(), "regenerate the shipped sample"
    lines = lines_of(SAMPLE)
    assert len(lines) == manifest.statements == 800 and 0 < len(manifest.planted) < 40
    mapped = config["xapi"]["activities"]
    used_courses = set()
    for line in lines:
        if broken_rules(line):
            continue
        statement = json.loads(line)
        grouping = statement.get("context", {}).get("contextActivities", {}).get("grouping", [])
        for activity in [statement["object"], *grouping]:
            iri = activity["id"]
            if COURSE.match(iri):
                used_courses.add(iri)
            elif AU.match(iri) or "/au/" in iri:
                used_courses.add(iri.split("/au/")[0])
    assert used_courses and used_courses <= set(mapped), used_courses - set(mapped)
    records = expected_records(lines, mapped)
    assert records and all(code in mapped.values() for _, code, _ in records)
    assert {"passed", "failed", "completed", "attended"} <= set(records.values()) <= set(STRENGTH)


MEMORY_SCRIPT = """
import os, resource, sys
from pathlib import Path
from txpipe.reference import load_reference
from txpipe.samples.lrs import write_lrs_export

def peak_kib():
    try:
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

reference = load_reference(Path(sys.argv[1]))
write_lrs_export(Path(os.devnull), reference, 20_000, seed=1, defect_rate=0.05)
before = peak_kib()
manifest = write_lrs_export(Path(os.devnull), reference, 200_000, seed=2, defect_rate=0.05)
print(before, peak_kib(), manifest.statements)
"""


def test_memory_stays_flat_while_streaming():
    """Writing 200,000 statements (about 270 MB) after a 20,000 warm-up raises the peak RSS by little:
    the export is streamed, not built in memory (measured in a fresh process, not by time)."""
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(REPO_ROOT / "data" / "reference")],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    before, after, written = (int(x) for x in out.stdout.split())
    assert written == 200_000
    assert after - before < 32 * 1024, f"peak RSS grew by {(after - before) / 1024:.1f} MiB"
