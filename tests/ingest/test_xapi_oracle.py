"""An independent oracle for ``txpipe.ingest.xapi_statements.participations``, written from the README only.

The README section "## xAPI sources (LRS exports)" (the "Every statement is accounted for" table, "Verbs"
and "Records") is the specification; neither the implementation nor its own tests were read when this
file was written (a few lines of the implementation later showed up in pytest tracebacks of failing
tests; nothing here was changed to match them).  ``oracle()`` below is a deliberately plain implementation of
those rules: it classifies every statement, then groups the used ones and decides each record from the whole group.
A hypothesis strategy mixes every documented defect and feature at random positions, and the property
test asserts that the library and the oracle agree on everything the README specifies.

Readings chosen where the README leaves room (each is marked "READING" where it is applied):

R1  "an Agent with no identifier": an actor whose objectType is absent or "Agent".  A Group (objectType
    "Group", anonymous or identified) is not an Agent, so it is never `xapi_actor_missing`; it is
    `xapi_actor_group`, checked in table order (after verb and object).
R2  Identifiers are non-empty strings (an empty mbox, mbox_sha1sum, openid, homePage or account name
    identifies nobody); an account needs both homePage and name.  The generator only
    ever gives one identifier per Agent, so their precedence is not tested.  The learner is the typed
    key of "Records" (issue 24): `mbox:`, `mbox_sha1sum:` (lower case), `openid:` or `account:` then
    homePage `|` name, with a backslash or `|` inside either escaped by a backslash.
R3  "has no `verb` with an `id`": a verb that is absent, not an object, or an object without a
    non-empty string `id`.  "has no `object`": the key is absent or null, or the value is not a JSON
    object.  (An object without an `id` is not generated: the README does not say what it is.)  An
    object is an activity when its objectType is absent or "Activity" (xAPI's default); a
    StatementRef, SubStatement, Agent or Group object is not, and its statement is ignored (issue 24).
R4  "says passed" / "says failed" means the verb's status after matching (so a config verb mapped to
    passed says passed, and a default passed IRI that [xapi.verbs] maps to completed says completed).
    `result.success: false` / `true` mean the JSON booleans (0 and 1 are not false and true).
R5  A number is a JSON number: booleans are not numbers (for scaled, raw, min and max).  Scaled -1 and
    1 are inside -1..1; "between 0 and 1" includes 0 and 1.
R6  Verb matching: [xapi.verbs] by exact IRI first; otherwise the last path segment of the IRI,
    compared case-insensitively with the table (this covers ADL's and cmi5's IRIs as well as other
    vocabularies'; a case variant of an ADL IRI is at worst an "other vocabulary" IRI with the same
    last segment).  A trailing slash does not make an empty last segment: ".../passed/" is passed.
    A verb whose status is not in the table (answered, viewed, satisfied, an unknown verb...) is
    ignored.  Only the exact IRI http://adlnet.gov/expapi/verbs/voided voids (no variants generated).
R7  Voiding: the rules of the table are applied first, so a quarantined statement stays quarantined
    even when it is a target, and a quarantined voiding statement voids nothing.  A voiding statement
    voids the statement whose `id` equals its object's `id`, whether that comes before or after it.
    Only string ids are compared; a statement whose `id` is not a string (a list, an object, a number)
    cannot be a target but is otherwise an ordinary statement.
    (Voiding statements are never generated as targets, as xAPI forbids voiding them.)
R8  ISO 8601 timestamps: the oracle parses the extended profile xAPI uses,
    YYYY-MM-DDTHH:MM:SS[.digits][Z|+hh:mm|-hh:mm] (ASCII digits, a real calendar date and time, offset
    hours <= 23 and minutes <= 59, nothing before or after); a non-string is not a timestamp.  Other
    valid ISO 8601 forms (reduced precision, comma fractions, basic format, week dates, date only) are
    never generated, because the oracle does not try to know them all.  What is generated as invalid
    is not ISO 8601 under any reading: impossible dates and times, a space instead of T, surrounding
    whitespace, a decimal sign without digits, offset minutes of 60, non-ASCII digits.  A valid
    timestamp whose UTC instant falls outside years 1..9999 ("0001-01-01T00:00:00+01:00") has no UTC
    date to give (start_date is YYYY-MM-DD): it is quarantined as `xapi_timestamp_invalid` -- the one
    thing it must not do is stop the export.
R9  "last" for nation means what it means for score: by timestamp (as an instant in UTC), then by
    position.  A statement "gives" a nation when its context.extensions holds the configured IRI.
R10 Title: the record's activity's definition.name (the object's, or the grouping activity's when the
    record is a grouping activity's), from any used statement of the record; within a language map an
    English entry ("en" or "en-..."; which one when there are several is not specified, so the generator
    gives them all the same text), else the entry with the lowest language tag.  The README does not say
    what comes after English; the lowest tag is chosen because JSON objects are unordered, so "the map's
    first entry" would let a re-serialised export of the same LRS change a title.  (The first draft took
    the map's first entry; the library takes the lowest tag, which is the better reading, so the oracle
    was changed and the README should say it.)  Which statement gives the
    title when several give different names is not specified, so the generator keeps one name map per
    activity IRI within an example (statements only differ in whether they carry it).  A record none
    of whose statements names its activity takes the name of the first statement of the export (by
    position) that is neither quarantined nor voided and names that activity as its object or as a
    grouping activity (issue 24).
R11 The records of `participations` carry the activity IRI (mapped or not); the unmapped ones are only
    quarantined later, at row level, so they appear in `outcome.records`.
R12 JSON numbers have no size limit (json.loads gives Python ints of any size): scaled 10**400 is a
    number outside -1..1.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import examples
from txpipe.ingest.xapi_statements import VOIDED, participations

# ----------------------------------------------------------------------------------------------
# The oracle
# ----------------------------------------------------------------------------------------------

VOIDED_IRI = "http://adlnet.gov/expapi/verbs/voided"

STATUS_OF_VERB = {
    "passed": "passed",
    "failed": "failed",
    "completed": "completed",
    "launched": "attended",
    "initialized": "attended",
    "attempted": "attended",
    "attended": "attended",
    "experienced": "attended",
    "progressed": "attended",
    "resumed": "attended",
    "terminated": "attended",
    "abandoned": "attended",
    "registered": "registered",
}
STRENGTH = {"passed": 5, "failed": 4, "completed": 3, "attended": 2, "registered": 1}

_TS = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?", re.ASCII)


def parse_timestamp(value):
    """The instant in UTC, or None when the value is not an ISO 8601 timestamp (READING R8)."""
    if not isinstance(value, str):
        return None
    m = _TS.fullmatch(value)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:
        return None
    if zone is None or zone == "Z":
        offset = timedelta(0)
    else:
        sign = 1 if zone[0] == "+" else -1
        hh, mm = int(zone[1:3]), int(zone[4:6])
        if hh > 23 or mm > 59:
            return None
        offset = sign * timedelta(hours=hh, minutes=mm)
    try:
        return (local - offset).replace(tzinfo=UTC)
    except OverflowError:  # READING R8: no UTC date in years 1..9999
        return None


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)  # READING R5


def nonempty_str(value) -> bool:
    return isinstance(value, str) and value != ""


def learner_of(actor):
    """The typed identifier, or None (READING R2)."""
    if nonempty_str(actor.get("mbox")):
        return "mbox:" + actor["mbox"]
    if nonempty_str(actor.get("mbox_sha1sum")):
        return "mbox_sha1sum:" + actor["mbox_sha1sum"].lower()
    if nonempty_str(actor.get("openid")):
        return "openid:" + actor["openid"]
    account = actor.get("account")
    if isinstance(account, dict) and nonempty_str(account.get("homePage")) and nonempty_str(account.get("name")):
        home, name = (account[k].replace("\\", "\\\\").replace("|", "\\|") for k in ("homePage", "name"))
        return f"account:{home}|{name}"
    return None


def is_activity(obj) -> bool:
    """READING R3: objectType absent or "Activity"."""
    return obj.get("objectType", "Activity") == "Activity"


def named_activities(statement):
    """The activity objects a statement names, with a title: its object, then its grouping (READING R10)."""
    grouping = (context_of(statement).get("contextActivities") or {}).get("grouping") or []
    for candidate in [statement["object"], *grouping]:
        if isinstance(candidate, dict) and is_activity(candidate) and isinstance(candidate.get("id"), str):
            name = title_of(candidate.get("definition"))
            if name:
                yield candidate["id"], name


def status_of(verb_iri: str, extra_verbs: dict) -> str | None:
    """READING R6."""
    if verb_iri in extra_verbs:
        return extra_verbs[verb_iri]
    last = verb_iri.rstrip("/").rsplit("/", 1)[-1].lower()
    return STATUS_OF_VERB.get(last)


def title_of(definition):
    """READING R10: English first, else the lowest language tag."""
    if not isinstance(definition, dict):
        return None
    names = definition.get("name")
    if not isinstance(names, dict) or not names:
        return None
    english = [tag for tag in names if tag.lower() == "en" or tag.lower().startswith("en-")]
    if english:
        return names[english[0]]  # the generator gives every English tag the same text
    return names[min(names, key=str.lower)]


@dataclass
class Classified:
    position: int
    statement: object
    rule: str | None = None  # the quarantine rule, if any
    learner: str | None = None
    status: str | None = None
    is_voider: bool = False
    instant: datetime | None = None


@dataclass
class OracleRecord:
    learner: str
    activity: str
    registration: str | None
    statements: list = field(default_factory=list)  # Classified, used ones


def classify(position, statement, extra_verbs) -> Classified:
    """The quarantine rules of the table, in the table's order; the first broken one wins."""
    c = Classified(position, statement)
    if not isinstance(statement, dict):
        c.rule = "xapi_statement_not_object"
        return c
    actor = statement.get("actor")
    if not isinstance(actor, dict):
        c.rule = "xapi_actor_missing"
        return c
    is_group = actor.get("objectType") == "Group"  # READING R1
    if not is_group:
        c.learner = learner_of(actor)
        if c.learner is None:
            c.rule = "xapi_actor_missing"
            return c
    verb = statement.get("verb")
    if not (isinstance(verb, dict) and nonempty_str(verb.get("id"))):  # READING R3
        c.rule = "xapi_verb_missing"
        return c
    if not isinstance(statement.get("object"), dict):  # READING R3
        c.rule = "xapi_object_missing"
        return c
    if is_group:
        c.rule = "xapi_actor_group"
        return c
    c.is_voider = verb["id"] == VOIDED_IRI
    c.status = None if c.is_voider else status_of(verb["id"], extra_verbs)
    result = statement.get("result")
    result = result if isinstance(result, dict) else {}
    success = result.get("success", None)
    if c.status == "passed" and success is False:  # READING R4
        c.rule = "xapi_passed_but_unsuccessful"
        return c
    if c.status == "failed" and success is True:
        c.rule = "xapi_failed_but_successful"
        return c
    score = result.get("score")
    if isinstance(score, dict) and "scaled" in score:
        scaled = score["scaled"]
        if not is_number(scaled) or not (-1 <= scaled <= 1):
            c.rule = "xapi_scaled_score_out_of_range"
            return c
    c.instant = parse_timestamp(statement.get("timestamp"))
    if c.instant is None:
        c.rule = "xapi_timestamp_invalid"
        return c
    return c


def score_of(statement):
    result = statement.get("result")
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    raw, lo, hi = score.get("raw"), score.get("min"), score.get("max")
    if is_number(raw) and is_number(lo) and is_number(hi) and hi != lo:
        return (raw - lo) / (hi - lo) * 100
    scaled = score.get("scaled")
    if is_number(scaled) and 0 <= scaled <= 1:
        return scaled * 100
    return None


def context_of(statement):
    context = statement.get("context")
    return context if isinstance(context, dict) else {}


def activity_and_definition(statement, activities):
    """The record's activity IRI and the definition that names it (README "activity_code")."""
    obj = statement["object"]
    if obj["id"] in activities:
        return obj["id"], obj.get("definition")
    grouping = (context_of(statement).get("contextActivities") or {}).get("grouping") or []
    for activity in grouping:
        if isinstance(activity, dict) and isinstance(activity.get("id"), str) and activity["id"] in activities:
            return activity["id"], activity.get("definition")
    return obj["id"], obj.get("definition")


def oracle(statements, extra_verbs=None, nation_extension=None, activities=()):
    extra_verbs = extra_verbs or {}
    classified = [classify(p, s, extra_verbs) for p, s in statements]

    quarantined = {(c.position, c.rule) for c in classified if c.rule}
    # READING R7: only statements that pass every rule void anything.
    voided_ids = {
        c.statement["object"].get("id")
        for c in classified
        if not c.rule and c.is_voider and isinstance(c.statement["object"].get("id"), str)
    }
    used, ignored = [], 0
    export_titles: dict[str, str] = {}
    for c in classified:
        if c.rule:
            continue
        target_id = c.statement.get("id")
        voided = isinstance(target_id, str) and target_id in voided_ids
        if not voided:
            for iri, name in named_activities(c.statement):
                export_titles.setdefault(iri, name)
        if c.is_voider or voided or c.status is None or not is_activity(c.statement["object"]):
            ignored += 1
        else:
            used.append(c)

    records: dict[tuple, OracleRecord] = {}
    for c in used:
        activity, _ = activity_and_definition(c.statement, activities)
        registration = context_of(c.statement).get("registration")
        key = (c.learner, activity, registration)
        records.setdefault(key, OracleRecord(*key)).statements.append(c)

    decided = {}
    for key, rec in records.items():
        ordered = sorted(rec.statements, key=lambda c: (c.instant, c.position))
        status = max((c.status for c in ordered), key=STRENGTH.__getitem__)
        score = None
        if status in ("passed", "failed"):
            deciding = [c for c in ordered if c.status == status]
            score = score_of(deciding[-1].statement)
        title = None
        for c in ordered:
            act, definition = activity_and_definition(c.statement, activities)
            assert act == rec.activity
            title = title or title_of(definition)
        nation = None
        if nation_extension is not None:
            for c in ordered:  # READING R9: the last by timestamp, then position
                ext = context_of(c.statement).get("extensions")
                if isinstance(ext, dict) and nation_extension in ext:
                    nation = ext[nation_extension]
        decided[key] = {
            "status": status,
            "start_date": ordered[0].instant.date().isoformat(),
            "end_date": max(c.instant for c in ordered).date().isoformat(),
            "score": score,
            "title": title or export_titles.get(rec.activity),
            "nation": nation,
            "positions": sorted(c.position for c in ordered),
        }
    return {"used": len(used), "ignored": ignored, "quarantined": quarantined, "records": decided}


def library(statements, extra_verbs=None, nation_extension=None, activities=()):
    out = participations(
        iter(copy.deepcopy(statements)),
        extra_verbs=copy.deepcopy(extra_verbs),
        nation_extension=nation_extension,
        activities=activities,
    )
    assert out.read == out.used + out.ignored + len(out.quarantined)
    records = {}
    for r in out.records:
        key = (r.learner, r.activity, r.registration)
        assert key not in records, f"two records for {key}"
        records[key] = {
            "status": r.status,
            "start_date": str(r.start_date),
            "end_date": str(r.end_date),
            "score": r.score,
            "title": r.title,
            "nation": r.nation,
            "positions": sorted(r.positions),
        }
    quarantined = [(q.position, q.rule) for q in out.quarantined]
    assert len(quarantined) == len(set(quarantined)), "a statement quarantined twice"
    return {"used": out.used, "ignored": out.ignored, "quarantined": set(quarantined), "records": records}


def assert_agree(statements, extra_verbs=None, nation_extension=None, activities=()):
    expected = oracle(statements, extra_verbs, nation_extension, activities)
    actual = library(statements, extra_verbs, nation_extension, activities)
    assert actual["quarantined"] == expected["quarantined"]
    assert (actual["used"], actual["ignored"]) == (expected["used"], expected["ignored"])
    assert actual["used"] + actual["ignored"] + len(actual["quarantined"]) == len(statements)
    assert set(actual["records"]) == set(expected["records"])
    for key, want in expected["records"].items():
        got = dict(actual["records"][key])
        if want["score"] is None:
            assert got["score"] is None, (key, got, want)
        else:
            assert got["score"] == pytest.approx(want["score"]), (key, got, want)
        got["score"] = want["score"]
        assert got == want, key
    return actual


# ----------------------------------------------------------------------------------------------
# The statement generator
# ----------------------------------------------------------------------------------------------

ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/adl/verbs/"
NATION_EXT = "https://example.org/xapi/extensions/nation"
OTHER_EXT = "https://example.org/xapi/extensions/device"

SHA = "5d41402abc4b2a76b9719d911017c592aec6f1e2"
GOOD_ACTORS = [
    {"mbox": "mailto:ann@example.org", "name": "Ann Example"},
    {"objectType": "Agent", "mbox": "mailto:ann@example.org"},
    {"mbox_sha1sum": SHA},
    {"mbox_sha1sum": SHA.upper(), "name": "Bea"},
    {"objectType": "Agent", "mbox_sha1sum": "5D41402ABC4b2a76b9719d911017c592aec6f1e2"},
    {"openid": "https://openid.example.org/bob"},
    {"account": {"homePage": "https://lms.example.org", "name": "carol"}, "name": "Carol"},
    {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "dave"}},
]
BAD_ACTORS = [
    "ann@example.org",
    None,
    [],
    {},
    {"name": "Nobody"},
    {"objectType": "Agent", "name": "Nobody"},
    {"account": {"homePage": "https://lms.example.org"}},
    {"mbox": ""},
    {"mbox_sha1sum": ""},
    {"objectType": "Agent", "openid": ""},
    {"account": {"homePage": "https://lms.example.org", "name": ""}},
    {"account": {"homePage": "", "name": "carol"}},
    {"objectType": "Group", "name": "Team", "member": [{"mbox": "mailto:ann@example.org"}]},
    {"objectType": "Group", "mbox": "mailto:team@example.org", "member": []},
    {"objectType": "Group", "account": {"homePage": "https://lms.example.org", "name": "team"}},
]

PARTICIPATION_VERBS = [
    ADL + "passed",
    ADL + "failed",
    ADL + "completed",
    ADL + "attempted",
    ADL + "attended",
    ADL + "experienced",
    ADL + "progressed",
    ADL + "resumed",
    ADL + "registered",
    ADL + "initialized",
    ADL + "launched",
    ADL + "terminated",
    CMI5 + "passed",
    CMI5 + "failed",
    CMI5 + "completed",
    CMI5 + "launched",
    CMI5 + "initialized",
    CMI5 + "terminated",
    CMI5 + "abandoned",
    "https://w3id.org/xapi/dod-isd/verbs/completed",
    "https://example.org/xapi/verbs/progressed",
    "http://id.example.com/vocab/registered",
]
IGNORED_VERBS = [
    ADL + "answered",
    ADL + "commented",
    ADL + "interacted",
    CMI5 + "satisfied",
    CMI5 + "waived",
    "http://id.tincanapi.com/verb/viewed",
    "http://activitystrea.ms/schema/1.0/attend",
    "https://example.org/verbs/downloaded",
]
EXTRA_VERBS = {
    "https://example.org/verbs/finished": "completed",
    "https://example.org/verbs/aced": "passed",
    "https://example.org/verbs/flunked": "failed",
    ADL + "experienced": "completed",  # overrides a default (attended)
    "http://id.tincanapi.com/verb/viewed": "attended",  # gives a status to an ignored verb
    CMI5 + "passed": "completed",  # overrides a default passed
}
NOT_ACTIVITIES = [
    {"objectType": "StatementRef", "id": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"},
    {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:ann@example.org"},
        "verb": {"id": ADL + "passed"},
        "object": {"id": "https://example.org/courses/gender-awareness", "definition": {"name": {"en": "Sub"}}},
    },
    {"objectType": "Agent", "mbox": "mailto:ann@example.org"},
    {"objectType": "Group", "id": "https://example.org/courses/gender-awareness", "member": []},
]
BAD_VERBS = ["<absent>", None, {}, {"display": {"en-US": "passed"}}, ADL + "passed", {"id": ""}]

COURSE = "https://example.org/courses/gender-awareness"
AU1 = "https://example.org/courses/gender-awareness/au/1"
AU2 = "https://example.org/courses/gender-awareness/au/2"
INPERSON = "https://example.org/courses/in-person"
ACTIVITIES = [COURSE, AU1, AU2, INPERSON]
GROUPINGS = [[], [COURSE], [INPERSON, COURSE], [COURSE, INPERSON], [AU2]]
REGISTRATIONS = [None, "ec531277-b57b-4c15-8d91-d292c5b2b8f7", "a1b2c3d4-0000-4000-8000-000000000001"]
NATIONS = ["GEO", "UKR", "MDA"]

INSTANTS = [
    datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC),
    datetime(2024, 3, 1, 10, 0, 0, 250000, tzinfo=UTC),
    datetime(2024, 3, 1, 22, 30, 0, tzinfo=UTC),
    datetime(2024, 3, 2, 1, 15, 0, tzinfo=UTC),
    datetime(2024, 3, 2, 12, 0, 0, tzinfo=UTC),
    datetime(2024, 3, 3, 23, 59, 59, tzinfo=UTC),
]
OFFSETS = [None, "Z", "+00:00", "+02:00", "-05:00", "+05:30"]
BAD_TIMESTAMPS = [
    "<absent>",
    None,
    "",
    "yesterday",
    "2024-02-30T10:00:00Z",
    "2024-03-01T25:00:00Z",
    "01/03/2024 10:00",
    1709287200,
    "\uff12\uff10\uff12\uff14-03-01T10:00:00Z",
    # not ISO 8601 either, but see the example tests below
    "2024-03-01 10:00:00Z",
    " 2024-03-01T10:00:00Z",
    "2024-03-01T10:00:00Z\n",
    "2024-03-01T10:00:00.Z",
    "2024-03-01T10:00:00+05:60",
    # ISO 8601, but no UTC date in years 1..9999 (READING R8)
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:30:00-05:00",
]


def render(instant: datetime, offset: str | None) -> str:
    if offset in (None, "Z", "+00:00"):
        local, suffix = instant, (offset or "")
    else:
        sign = 1 if offset[0] == "+" else -1
        delta = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        local, suffix = instant + delta, offset
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if local.microsecond:
        text += f".{local.microsecond // 1000:03d}"
    return text + suffix


def pick(draw, good, bad, bad_percent):
    """A good value most of the time (shrinks towards good[0]), a bad one bad_percent% of the time."""
    if bad and draw(st.integers(0, 99)) >= 100 - bad_percent:
        return draw(st.sampled_from(bad))
    return draw(st.sampled_from(good))


@st.composite
def vary_verb(draw, iri):
    """Case variants in the last segment and a trailing slash."""
    head, _, last = iri.rpartition("/")
    how = draw(st.integers(0, 9))
    if how == 7:
        last = last.upper()
    elif how == 8:
        last = last[:1].upper() + last[1:]
    if draw(st.integers(0, 9)) == 9:
        last += "/"
    return head + "/" + last


@st.composite
def names_maps(draw):
    """One definition.name map per activity for the example (READING R10)."""
    out = {}
    for activity in ACTIVITIES:
        slug = activity.rsplit("/", 2)[-2] + "/" + activity.rsplit("/", 1)[-1]
        tags = draw(
            st.lists(st.sampled_from(["en", "en-US", "en-GB", "de-DE", "fr-FR", "ka-GE"]), unique=True, max_size=3)
        )
        out[activity] = {tag: (f"{slug} (English)" if tag.startswith("en") else f"{slug} ({tag})") for tag in tags}
    return out


@st.composite
def results(draw):
    if draw(st.integers(0, 3)) == 0:
        return "<absent>"
    result = {}
    success = draw(st.sampled_from(["<absent>", True, False, "<absent>", 0, 1]))
    if success != "<absent>":
        result["success"] = success
    if draw(st.booleans()):
        result["completion"] = True
    kind = draw(st.integers(0, 5))
    score = {}
    if kind in (1, 3):
        score["raw"] = draw(st.sampled_from([80, 50.5, 0, 100, "80", True]))
        score["min"] = draw(st.sampled_from([0, 10, 0.0]))
        score["max"] = draw(st.sampled_from([100, 10, 200]))
        if draw(st.integers(0, 5)) == 0:
            del score[draw(st.sampled_from(["raw", "min", "max"]))]
    if kind in (2, 3, 4):
        score["scaled"] = pick(
            draw, [0.85, 0, 1, 1.0, 0.5, -0.5, -1, 0.25], [1.5, -1.01, "0.5", True, 100, 10**400], 20
        )
    if kind == 5:
        score = {"raw": 3}
    if kind:
        result["score"] = score
    return result


@st.composite
def statement_lists(draw):
    names = draw(names_maps())
    extra = {k: v for k, v in EXTRA_VERBS.items() if draw(st.booleans())}
    activities = frozenset(a for a in ACTIVITIES if draw(st.booleans()))
    nation_extension = draw(st.sampled_from([NATION_EXT, None, NATION_EXT]))
    n = draw(st.integers(0, 28))
    # A small pool per example, so that statements collide into the same records.
    actors = draw(st.lists(st.sampled_from(GOOD_ACTORS), min_size=1, max_size=3))
    objects = draw(st.lists(st.sampled_from(ACTIVITIES), min_size=1, max_size=2))
    registrations = draw(st.lists(st.sampled_from(REGISTRATIONS), min_size=1, max_size=2))

    statements = []
    for position in range(1, n + 1):
        kind = draw(st.integers(0, 99))
        if kind < 5:  # not a JSON object
            statements.append(
                (position, draw(st.sampled_from(["statement", 42, 3.5, [], [{"actor": GOOD_ACTORS[0]}], None, True])))
            )
            continue
        voider = kind >= 88
        s: dict = {}
        how_id = draw(st.integers(0, 39))
        if how_id > 3:
            s["id"] = f"6690e6c9-3ef0-4ed3-8b37-{position:012d}"
        elif how_id > 0:  # READING R7: not a string, so never a target
            s["id"] = draw(st.sampled_from([["6690e6c9"], {"uuid": "6690e6c9"}, 6690]))
        actor = pick(draw, actors, BAD_ACTORS, 8)
        s["actor"] = copy.deepcopy(actor)
        if voider:
            verb = {"id": VOIDED_IRI, "display": {"en-US": "voided"}}
            if draw(st.integers(0, 19)) == 0:
                verb = draw(st.sampled_from(BAD_VERBS))
        else:
            family = draw(st.integers(0, 9))
            if family < 2:
                iri = draw(st.sampled_from([ADL + "passed", ADL + "failed", CMI5 + "passed", CMI5 + "failed"]))
            elif family < 6:
                iri = draw(st.sampled_from(PARTICIPATION_VERBS))
            elif family < 8:
                iri = draw(st.sampled_from(IGNORED_VERBS))
            else:
                iri = draw(st.sampled_from(sorted(EXTRA_VERBS)))
            iri = draw(vary_verb(iri))
            verb = pick(draw, [{"id": iri}, {"id": iri, "display": {"en-US": "x"}}], BAD_VERBS, 5)
        if verb != "<absent>":
            s["verb"] = verb
        if voider:
            s["object"] = {"objectType": "StatementRef", "id": None}  # target filled in below
        else:
            activity = draw(st.sampled_from(objects))
            obj = {"id": activity}
            if draw(st.booleans()):
                obj["objectType"] = "Activity"
            if names[activity] and draw(st.integers(0, 9)) < 7:
                obj["definition"] = {
                    "name": dict(names[activity]),
                    "type": "http://adlnet.gov/expapi/activities/lesson",
                }
            if draw(st.integers(0, 9)) == 0:  # READING R3: an object that is not an activity
                obj = copy.deepcopy(draw(st.sampled_from(NOT_ACTIVITIES)))
            s["object"] = obj
        if draw(st.integers(0, 99)) < 4:
            how = draw(st.integers(0, 2))
            if how == 0:
                del s["object"]
            else:
                s["object"] = None if how == 1 else COURSE
        if not voider:
            result = draw(results())
            if result != "<absent>":
                s["result"] = result
            if draw(st.integers(0, 4)):
                context = {}
                registration = draw(st.sampled_from(registrations))
                if registration is not None:
                    context["registration"] = registration
                grouping = draw(st.sampled_from(GROUPINGS))
                if grouping:
                    entries = []
                    if draw(st.integers(0, 9)) == 0:  # an entry that is not an activity with an IRI
                        entries.append(draw(st.sampled_from([{"id": [COURSE]}, {"id": None}, COURSE])))
                    for g in grouping:
                        entry = {"id": g, "objectType": "Activity"}
                        if names[g] and draw(st.booleans()):
                            entry["definition"] = {"name": dict(names[g])}
                        entries.append(entry)
                    context["contextActivities"] = {"grouping": entries}
                extensions = {}
                if draw(st.integers(0, 2)) == 0:
                    extensions[NATION_EXT] = draw(st.sampled_from(NATIONS))
                if draw(st.booleans()):
                    extensions[OTHER_EXT] = "tablet"
                if extensions:
                    context["extensions"] = extensions
                s["context"] = context
        elif draw(st.integers(0, 9)) == 0:
            s["result"] = {"score": {"scaled": 2}}  # a voiding statement with a bad field
        timestamp = pick(draw, ["<good>"], BAD_TIMESTAMPS, 6)
        if timestamp == "<good>":
            timestamp = render(draw(st.sampled_from(INSTANTS)), draw(st.sampled_from(OFFSETS)))
        if timestamp != "<absent>":
            s["timestamp"] = timestamp
        statements.append((position, s))

    # Voiding targets: any other statement's id (before or after, possibly quarantined), or none.
    targets = [
        s["id"]
        for _, s in statements
        if isinstance(s, dict)
        and isinstance(s.get("id"), str)
        and s.get("verb") != {"id": VOIDED_IRI, "display": {"en-US": "voided"}}
        and not (isinstance(s.get("object"), dict) and s["object"].get("objectType") == "StatementRef")
    ]
    for _, s in statements:
        if (
            isinstance(s, dict)
            and isinstance(s.get("object"), dict)
            and s["object"].get("objectType") == "StatementRef"
        ):
            if targets and draw(st.integers(0, 4)):
                s["object"]["id"] = draw(st.sampled_from(targets))
            else:
                s["object"]["id"] = "00000000-0000-4000-8000-00000000dead"  # voids nothing here
    return statements, extra, nation_extension, activities


# ----------------------------------------------------------------------------------------------
# The property
# ----------------------------------------------------------------------------------------------


def test_the_documented_voided_iri():
    assert VOIDED == VOIDED_IRI


@settings(
    max_examples=examples(300),
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(statement_lists())
def test_participations_agree_with_the_readme_oracle(case):
    statements, extra, nation_extension, activities = case
    assert_agree(statements, extra, nation_extension, activities)


# ----------------------------------------------------------------------------------------------
# Examples of rules that are easy to misread
# ----------------------------------------------------------------------------------------------

ANN = {"mbox": "mailto:ann@example.org"}


def st_(verb, ts="2024-03-01T10:00:00Z", actor=ANN, obj=COURSE, **extra):
    s = {"actor": actor, "verb": {"id": verb if "/" in verb else ADL + verb}, "object": {"id": obj}, "timestamp": ts}
    s.update(extra)
    return s


def numbered(*statements):
    return list(enumerate(statements, start=1))


def test_first_broken_rule_in_table_order_wins():
    # passed + success false + scaled out of range + bad timestamp: the passed rule comes first
    a = st_("passed", ts="nope", result={"success": False, "score": {"scaled": 3}})
    # scaled out of range + bad timestamp: scaled comes first
    b = st_("completed", ts="nope", result={"score": {"scaled": 3}})
    # a Group actor without a verb: the verb rule comes before the Group rule
    c = {
        "actor": {"objectType": "Group", "mbox": "mailto:t@example.org"},
        "object": {"id": COURSE},
        "timestamp": "2024-03-01T10:00:00Z",
    }
    out = assert_agree(numbered(a, b, c), activities={COURSE})
    assert out["quarantined"] == {
        (1, "xapi_passed_but_unsuccessful"),
        (2, "xapi_scaled_score_out_of_range"),
        (3, "xapi_verb_missing"),
    }


def test_scaled_minus_one_to_zero_is_valid_but_gives_no_score_and_bounds_are_inclusive():
    rows = numbered(
        st_("passed", result={"score": {"scaled": -0.5}}),
        st_("passed", actor={"openid": "https://id.example.org/x"}, result={"score": {"scaled": 1}}),
        st_("failed", actor={"openid": "https://id.example.org/y"}, result={"score": {"scaled": -1}}),
    )
    out = assert_agree(rows, activities={COURSE})
    assert out["quarantined"] == set()
    assert out["records"][("mbox:mailto:ann@example.org", COURSE, None)]["score"] is None
    assert out["records"][("openid:https://id.example.org/x", COURSE, None)]["score"] == pytest.approx(100)


def test_raw_min_max_first_but_not_when_max_equals_min():
    rows = numbered(
        st_("passed", result={"score": {"raw": 30, "min": 10, "max": 50, "scaled": 0.9}}),
        st_(
            "passed",
            actor={"openid": "https://id.example.org/x"},
            result={"score": {"raw": 10, "min": 10, "max": 10, "scaled": 0.9}},
        ),
    )
    out = assert_agree(rows, activities={COURSE})
    assert out["records"][("mbox:mailto:ann@example.org", COURSE, None)]["score"] == pytest.approx(50)
    assert out["records"][("openid:https://id.example.org/x", COURSE, None)]["score"] == pytest.approx(90)


def test_score_from_last_deciding_statement_by_instant_then_position():
    # Position 1 is the latest instant; positions 2 and 3 are the same instant written with two offsets.
    rows = numbered(
        st_("passed", ts="2024-03-02T09:00:00+02:00", result={"score": {"scaled": 0.7}}),  # 07:00Z
        st_("passed", ts="2024-03-02T06:00:00Z", result={"score": {"scaled": 0.1}}),
        st_("passed", ts="2024-03-02T01:00:00-05:00", result={"score": {"scaled": 0.2}}),  # 06:00Z
        st_("completed", ts="2024-03-03T10:00:00Z"),
    )
    out = assert_agree(rows, activities={COURSE})
    rec = out["records"][("mbox:mailto:ann@example.org", COURSE, None)]
    assert rec["score"] == pytest.approx(70)
    assert (rec["start_date"], rec["end_date"], rec["status"]) == ("2024-03-02", "2024-03-03", "passed")


def test_equal_instants_tie_broken_by_position():
    rows = numbered(
        st_("failed", ts="2024-03-02T12:00:00+02:00", result={"score": {"scaled": 0.2}}),
        st_("failed", ts="2024-03-02T10:00:00Z", result={"score": {"scaled": 0.4}}),
    )
    out = assert_agree(rows, activities={COURSE})
    assert out["records"][("mbox:mailto:ann@example.org", COURSE, None)]["score"] == pytest.approx(40)


def test_utc_dates_across_midnight_and_ignored_statements_do_not_count():
    rows = numbered(
        st_("answered", ts="2024-02-20T10:00:00Z"),
        st_("launched", ts="2024-03-01T23:30:00-05:00"),  # 2024-03-02 in UTC
        st_("completed", ts="2024-03-05T01:00:00+02:00"),  # 2024-03-04 in UTC
        st_("http://id.tincanapi.com/verb/viewed", ts="2024-03-09T10:00:00Z"),
    )
    out = assert_agree(rows, activities={COURSE})
    rec = out["records"][("mbox:mailto:ann@example.org", COURSE, None)]
    assert (rec["start_date"], rec["end_date"], rec["positions"]) == ("2024-03-02", "2024-03-04", [2, 3])
    assert (out["used"], out["ignored"]) == (2, 2)


def test_voiding_before_and_after_and_quarantined_voiders_and_targets():
    target_a = dict(st_("passed"), id="a")
    target_b = dict(st_("completed", actor={"openid": "https://id.example.org/x"}), id="b")
    target_q = dict(st_("passed", ts="bad"), id="q")
    keep = dict(st_("attended", actor={"openid": "https://id.example.org/y"}), id="k")

    def void(i, **kw):
        return st_(VOIDED_IRI, obj=None, **kw) | {"object": {"objectType": "StatementRef", "id": i}}

    rows = numbered(
        void("a"),  # before its target
        target_a,
        target_b,
        void("b"),  # after its target
        target_q,
        void("q"),  # targets a quarantined statement: the target stays quarantined
        void("k", ts="bad"),  # a quarantined voiding statement voids nothing
        keep,
        void("missing"),  # voids nothing, is ignored
    )
    out = assert_agree(rows, activities={COURSE})
    assert out["quarantined"] == {(5, "xapi_timestamp_invalid"), (7, "xapi_timestamp_invalid")}
    assert (out["used"], out["ignored"]) == (1, 6)
    assert list(out["records"]) == [("openid:https://id.example.org/y", COURSE, None)]


def test_identifiers_as_xapi_writes_them():
    rows = numbered(
        st_("attended", actor={"mbox_sha1sum": SHA.upper()}),
        st_("completed", actor={"mbox_sha1sum": SHA}),
        st_("attended", actor={"account": {"homePage": "https://lms.example.org", "name": "carol"}}),
        st_("attended", actor={"account": {"homePage": "https://lms.example.org"}}),
        st_("attended", actor={"objectType": "Group", "member": [ANN]}),
    )
    out = assert_agree(rows, activities={COURSE})
    assert set(out["records"]) == {
        ("mbox_sha1sum:" + SHA, COURSE, None),
        ("account:https://lms.example.org|carol", COURSE, None),
    }
    assert out["records"][("mbox_sha1sum:" + SHA, COURSE, None)]["positions"] == [1, 2]
    assert out["quarantined"] == {(4, "xapi_actor_missing"), (5, "xapi_actor_group")}


def test_verb_matching_order_and_variants():
    extra = {"https://example.org/verbs/finished": "completed", ADL + "experienced": "completed"}
    rows = numbered(
        st_(ADL + "experienced", obj=AU1),  # config overrides the default (attended)
        st_("https://example.org/verbs/finished", obj=AU2),
        st_("https://example.org/vocab/Passed/", obj=INPERSON),  # other vocabulary, case, trailing slash
        st_(CMI5 + "Failed", actor={"openid": "https://id.example.org/x"}),
        st_("https://example.org/verbs/Finished", actor={"openid": "https://id.example.org/y"}),  # not the config IRI
        st_(CMI5 + "satisfied", actor={"openid": "https://id.example.org/z"}),
    )
    out = assert_agree(rows, extra_verbs=extra, activities=set(ACTIVITIES))
    status = {k[1] if k[0] == "mbox:" + ANN["mbox"] else k[0]: v["status"] for k, v in out["records"].items()}
    assert status == {
        AU1: "completed",
        AU2: "completed",
        INPERSON: "passed",
        "openid:https://id.example.org/x": "failed",
    }
    assert out["ignored"] == 2


def test_cmi5_course_in_grouping_title_english_first_and_nation_last():
    def au(verb, ts, au_iri, nation, registration="r1"):
        return st_(
            verb,
            ts=ts,
            obj=au_iri,
            context={
                "registration": registration,
                "contextActivities": {
                    "grouping": [
                        {"id": INPERSON},
                        {"id": COURSE, "definition": {"name": {"de-DE": "Gender-Kurs", "en-GB": "Gender course"}}},
                    ]
                },
                "extensions": {NATION_EXT: nation},
            },
        ) | {"object": {"id": au_iri, "definition": {"name": {"en-US": "Module"}}}}

    rows = numbered(
        au("launched", "2024-03-01T10:00:00Z", AU1, "GEO"),
        au("passed", "2024-03-03T10:00:00Z", AU2, "MDA"),
        au("completed", "2024-03-02T10:00:00Z", AU1, "UKR"),  # later in the file, earlier in time
    )
    out = assert_agree(rows, nation_extension=NATION_EXT, activities={COURSE})
    rec = out["records"][("mbox:mailto:ann@example.org", COURSE, "r1")]
    assert (rec["status"], rec["title"], rec["nation"], rec["positions"]) == (
        "passed",
        "Gender course",
        "MDA",
        [1, 2, 3],
    )
    # mapped object: the record is the object's, titled from the object
    out = assert_agree(rows, nation_extension=NATION_EXT, activities={COURSE, AU1})
    assert out["records"][("mbox:mailto:ann@example.org", AU1, "r1")]["title"] == "Module"
    # nothing mapped: the record keeps the object's IRI
    out = assert_agree(rows, nation_extension=NATION_EXT, activities=set())
    assert set(out["records"]) == {
        ("mbox:mailto:ann@example.org", AU1, "r1"),
        ("mbox:mailto:ann@example.org", AU2, "r1"),
    }


def test_registration_splits_records():
    rows = numbered(
        st_("passed", context={"registration": "r1"}),
        st_("failed", context={"registration": "r2"}),
        st_("completed"),
    )
    out = assert_agree(rows, activities={COURSE})
    assert {k[2]: v["status"] for k, v in out["records"].items()} == {"r1": "passed", "r2": "failed", None: "completed"}


# Rules where the library was seen to disagree with the README (see the module docstring's readings).


@pytest.mark.parametrize(
    "actor",
    [
        {"mbox": ""},
        {"mbox_sha1sum": ""},
        {"openid": ""},
        {"account": {"homePage": "https://lms.example.org", "name": ""}},
        {"account": {"homePage": "", "name": "carol"}},
    ],
    ids=["mbox", "mbox_sha1sum", "openid", "account-name", "account-homePage"],
)
def test_an_empty_identifier_identifies_nobody(actor):
    # Otherwise every such statement in an export becomes one "learner" whose identifier is "" (or "|carol").
    out = assert_agree(numbered(st_("completed", actor=actor)), activities={COURSE})
    assert out["quarantined"] == {(1, "xapi_actor_missing")}
    assert out["records"] == {}


def test_an_empty_verb_id_is_no_verb_id():
    out = assert_agree(numbered(dict(st_("completed"), verb={"id": ""})), activities={COURSE})
    assert out["quarantined"] == {(1, "xapi_verb_missing")}


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-03-01T10:00:00.Z",  # a decimal sign without digits
        "2024-03-01T10:00:00+05:60",  # an offset of 5 h 60 min
        "2024-03-01 10:00:00Z",  # a space instead of T (RFC 3339 allows it, ISO 8601 does not)
        " 2024-03-01T10:00:00Z",  # surrounding whitespace
        "2024-03-01T10:00:00Z\n",
    ],
)
def test_timestamps_that_are_not_iso_8601_are_quarantined(timestamp):
    out = assert_agree(numbered(st_("completed", ts=timestamp)), activities={COURSE})
    assert out["quarantined"] == {(1, "xapi_timestamp_invalid")}


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-05:00"])
def test_a_timestamp_without_a_utc_date_in_range_does_not_stop_the_export(timestamp):
    rows = numbered(st_("completed", ts=timestamp), st_("passed"))
    out = assert_agree(rows, activities={COURSE})  # READING R8: quarantined
    assert out["quarantined"] == {(1, "xapi_timestamp_invalid")}
    assert out["used"] == 1


def test_a_huge_scaled_score_is_out_of_range_not_a_crash():
    # JSON numbers have no size limit and json.loads gives Python ints of any size.
    rows = numbered(st_("passed", result={"score": {"scaled": 10**400}}), st_("passed"))
    out = assert_agree(rows, activities={COURSE})
    assert out["quarantined"] == {(1, "xapi_scaled_score_out_of_range")}


def test_a_huge_raw_score_does_not_stop_the_export():
    # The README does not say what score an infinite ratio gives; only that the statement is used.
    rows = numbered(st_("passed", result={"score": {"raw": 10**400, "min": 0, "max": 100}}), st_("completed"))
    out = participations(rows, activities={COURSE})
    assert (out.used, out.ignored, out.quarantined) == (2, 0, [])
    assert len(out.records) == 1 and out.records[0].status == "passed"


@pytest.mark.parametrize("bad_id", [["a"], {"uuid": "a"}, 7], ids=["list", "object", "number"])
def test_a_statement_id_that_is_not_a_string_does_not_stop_the_export(bad_id):
    void = st_(VOIDED_IRI) | {"object": {"objectType": "StatementRef", "id": "a"}}
    rows = numbered(dict(st_("passed"), id=bad_id), void)
    out = assert_agree(rows, activities={COURSE})  # READING R7: never a target, otherwise used
    assert (out["used"], out["ignored"]) == (1, 1)


def test_a_grouping_entry_without_a_string_iri_does_not_stop_the_export():
    context = {"contextActivities": {"grouping": [{"id": [COURSE]}, COURSE, {"id": COURSE}]}}
    out = assert_agree(numbered(st_("passed", obj=AU1, context=context)), activities={COURSE})
    assert list(out["records"]) == [("mbox:mailto:ann@example.org", COURSE, None)]
