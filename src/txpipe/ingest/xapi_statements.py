"""xAPI statements (an LRS export) -> participation records.

The e-learning platform and partner LMSs record learning as xAPI statements, not rosters. This
module turns a delivery's statements into one participation record per learner, activity and
registration (README "xAPI sources"), following the rules of issue 13:

- a statement that is not an object, lacks actor, verb or object, has a Group as actor, or
  contradicts itself is quarantined with the rule's name and its position;
- a ``voided`` statement removes its target; both count as ignored;
- verbs are matched by IRI through :data:`DEFAULT_VERBS` (ADL's and cmi5's), then by the last path
  segment of the IRI (:data:`SEGMENT_STATUS`), and a source config can add its own; a verb that says
  nothing about participation is ignored (counted, never silently dropped);
- the strongest outcome wins (passed, failed, completed, attended, registered); the dates are those
  of the first and last statements used; the score comes from the last statement with the deciding
  verb.

Accounting: statements read = used + ignored + quarantined. Nothing here does I/O; the learner's
identifier leaves this module only as ``participant_ref``, which the pipeline pseudonymises at once.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/adl/verbs/"

# Status by last path segment of a verb IRI (ADL, cmi5 and other vocabularies alike).
SEGMENT_STATUS: dict[str, str] = {
    "passed": "passed",
    "failed": "failed",
    "completed": "completed",
    **dict.fromkeys(("launched", "initialized", "attempted", "attended", "experienced", "progressed", "resumed", "terminated", "abandoned"), "attended"),
    "registered": "registered",
}
# The documented default table: ADL's and cmi5's verb IRIs.
DEFAULT_VERBS: dict[str, str] = {
    **{ADL + segment: status for segment, status in SEGMENT_STATUS.items()},
    **{CMI5 + segment: status for segment, status in SEGMENT_STATUS.items()},
}
# The rules a statement can break, in the order they are checked, and what each means.
RULES: dict[str, str] = {
    "xapi_statement_not_object": "not a JSON object",
    "xapi_actor_missing": "no actor, or an actor with no identifier (mbox, mbox_sha1sum, openid or account)",
    "xapi_verb_missing": "no verb with an id",
    "xapi_object_missing": "no object",
    "xapi_actor_group": "the actor is a Group, not a learner",
    "xapi_passed_but_unsuccessful": "verb passed with result.success false",
    "xapi_failed_but_successful": "verb failed with result.success true",
    "xapi_scaled_score_out_of_range": "result.score.scaled is not a number between -1 and 1",
    "xapi_timestamp_invalid": "no timestamp, or one that is not ISO 8601",
}
STRENGTH = ("registered", "attended", "completed", "failed", "passed")  # weakest first


@dataclass(frozen=True)
class StatementProblem:
    """A statement quarantined: its position (array index or line) and the rule it broke."""

    position: int
    rule: str


@dataclass(slots=True)
class Participation:
    """What the used statements say about one learner in one activity (and registration).

    Held as a running summary, not as the statements: memory grows with records, not statements.
    "First" and "last" order statements by timestamp, then by position in the file."""

    learner: str
    activity: str
    registration: str | None
    title: str | None = None
    nation: str | None = None
    positions: list[int] = field(default_factory=list)
    status: str = "registered"
    score: float | None = None
    _first: tuple[dt.datetime, int] | None = field(default=None, repr=False)
    _last: tuple[dt.datetime, int] | None = field(default=None, repr=False)
    _deciding: tuple[dt.datetime, int] | None = field(default=None, repr=False)  # last statement of the status
    _nation_at: tuple[dt.datetime, int] | None = field(default=None, repr=False)

    @property
    def start_date(self) -> str:
        assert self._first is not None
        return self._first[0].date().isoformat()

    @property
    def end_date(self) -> str:
        assert self._last is not None
        return self._last[0].date().isoformat()

    def add(self, when: tuple[dt.datetime, int], status: str, result: dict, nation: str | None) -> None:
        """Take one used statement into the summary."""
        self.positions.append(when[1])
        self._first = when if self._first is None else min(self._first, when)
        self._last = when if self._last is None else max(self._last, when)
        stronger = self._deciding is None or STRENGTH.index(status) > STRENGTH.index(self.status)
        if stronger or (status == self.status and when > self._deciding):
            self.status, self._deciding = status, when
            self.score = score_percent(result) if status in ("passed", "failed") else None
        if nation and (self._nation_at is None or when > self._nation_at):
            self.nation, self._nation_at = nation, when


@dataclass(frozen=True)
class Outcome:
    records: list[Participation]
    used: int
    ignored: int
    quarantined: list[StatementProblem]

    @property
    def read(self) -> int:
        return self.used + self.ignored + len(self.quarantined)


def _object(parent: dict, key: str) -> dict:
    """The JSON object under ``key``, or an empty one if it is absent or not an object."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    """A non-blank string, stripped; None for anything else."""
    return value.strip() or None if isinstance(value, str) else None


def learner_id(actor: dict) -> str | None:
    """The learner's identifier as xAPI writes it: mailto:..., the mbox_sha1sum hex (lower case), the
    openid URL, or ``homePage|name`` for an account; None if the actor has none (blank ones count as none)."""
    if mbox := _text(actor.get("mbox")):
        return mbox
    if sha1 := _text(actor.get("mbox_sha1sum")):
        return sha1.lower()
    if openid := _text(actor.get("openid")):
        return openid
    account = actor.get("account")
    if isinstance(account, dict) and (home := _text(account.get("homePage"))) and (name := _text(account.get("name"))):
        return f"{home}|{name}"
    return None


def verb_status(iri: str, extra: dict[str, str] | None = None) -> str | None:
    """The participation status a verb IRI stands for, or None if it says nothing about participation."""
    if extra and iri in extra:
        return extra[iri]
    if iri in DEFAULT_VERBS:
        return DEFAULT_VERBS[iri]
    return SEGMENT_STATUS.get(iri.rstrip("/").rsplit("/", 1)[-1].casefold())


# xAPI's timestamps: ISO 8601 date and time (minutes at least), optional seconds and fraction, and an
# optional offset (Z, +HH:MM, +HHMM or +HH); no blanks, no date alone. Without an offset: UTC.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?[0-5]\d)?)?", re.ASCII)


def timestamp_utc(value: object) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; None if it is not one (or falls outside years 1-9999)."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return None
    leap = value[17:19] == "60"  # a leap second (23:59:60) is read as the second before it
    try:
        parsed = dt.datetime.fromisoformat(value[:17] + "59" + value[19:] if leap else value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def score_percent(result: dict) -> float | None:
    """(raw - min) / (max - min) x 100 when all three are numbers; else scaled x 100 when 0..1; else None
    (also when the arithmetic leaves the finite numbers)."""
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    raw, low, high, scaled = (_finite(score.get(k)) for k in ("raw", "min", "max", "scaled"))
    percent = None
    if raw is not None and low is not None and high is not None and high != low:
        percent = (raw / 2 - low / 2) / (high / 2 - low / 2) * 100  # halves: no overflow at the float extremes
    elif scaled is not None and 0 <= scaled <= 1:
        percent = scaled * 100
    return percent if percent is not None and math.isfinite(percent) else None


def _finite(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else (booleans, text, huge integers, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def problem(statement: object, extra_verbs: dict[str, str] | None = None) -> str | None:
    """The rule a statement breaks, or None."""
    if not isinstance(statement, dict):
        return "xapi_statement_not_object"
    actor, verb, target = statement.get("actor"), statement.get("verb"), statement.get("object")
    if not isinstance(actor, dict) or (actor.get("objectType") != "Group" and learner_id(actor) is None):
        return "xapi_actor_missing"  # an Agent with no identifier names no learner
    if not isinstance(verb, dict) or _text(verb.get("id")) is None:
        return "xapi_verb_missing"
    if not isinstance(target, dict):
        return "xapi_object_missing"
    if actor.get("objectType") == "Group":
        return "xapi_actor_group"
    result = _object(statement, "result")
    status = verb_status(verb["id"], extra_verbs)
    if status == "passed" and result.get("success") is False:
        return "xapi_passed_but_unsuccessful"
    if status == "failed" and result.get("success") is True:
        return "xapi_failed_but_successful"
    scaled = _object(result, "score").get("scaled")
    if scaled is not None and not ((number := _finite(scaled)) is not None and -1 <= number <= 1):
        return "xapi_scaled_score_out_of_range"
    if timestamp_utc(statement.get("timestamp")) is None:
        return "xapi_timestamp_invalid"
    return None


def _title(target: object) -> str | None:
    """The activity's name, English first (en, en-US, en-GB, other en-*, then any language)."""
    definition = target.get("definition") if isinstance(target, dict) else None
    names = definition.get("name") if isinstance(definition, dict) else None
    if not isinstance(names, dict) or not names:
        return None
    ranked = sorted(
        names, key=lambda tag: (tag != "en", tag != "en-US", tag != "en-GB", not str(tag).startswith("en"), str(tag))
    )
    value = names[ranked[0]]
    return value.strip() or None if isinstance(value, str) else None


def _activity(statement: dict, mapped: Container[str]) -> tuple[str | None, object]:
    """The activity a statement is about, and the activity object its title comes from: the object
    if the config maps it, else the first grouping activity (a cmi5 course) the config maps, else the
    object."""
    target = statement["object"]
    own = target["id"] if _text(target.get("id")) else None
    if own is None or own in mapped:
        return own, target
    context = statement.get("context")
    parents = context.get("contextActivities") if isinstance(context, dict) else None
    grouping = parents.get("grouping") if isinstance(parents, dict) else None
    for parent in grouping if isinstance(grouping, list) else [grouping]:
        if isinstance(parent, dict) and isinstance(parent.get("id"), str) and parent["id"] in mapped:
            return parent["id"], parent
    return own, target


def voided_ids(statements: Iterable[tuple[int, object]], extra_verbs: dict[str, str] | None = None) -> set[str]:
    """The ids (lower case: they are UUIDs) of the statements voided by a valid voiding statement."""
    return {
        s["object"]["id"].strip().lower()
        for _, s in statements
        if isinstance(s, dict)
        and isinstance(s.get("verb"), dict)
        and s["verb"].get("id") == VOIDED
        and problem(s, extra_verbs) is None
        and isinstance(s["object"].get("id"), str)
    }


def participations(
    statements: Iterable[tuple[int, object]],
    extra_verbs: dict[str, str] | None = None,
    nation_extension: str | None = None,
    activities: Container[str] = (),
    voided: set[str] | None = None,
) -> Outcome:
    """Statements (position, parsed JSON) -> participation records, with every statement accounted for.

    ``activities``: the activity IRIs the config maps (a statement about an unmapped object counts for
    the mapped cmi5 course in its grouping). With ``nation_extension``, a record's nation is the one the
    last of its used statements gives there. ``voided``: the ids voided in the whole delivery, when the
    caller found them in a first pass over a stream; without it the statements are read into a list
    and searched here."""
    if voided is None:
        statements = list(statements)
        voided = voided_ids(statements, extra_verbs)
    quarantined: list[StatementProblem] = []
    records: dict[tuple[str, str, str | None], Participation] = {}
    used = ignored = 0
    for position, statement in statements:
        if rule := problem(statement, extra_verbs):
            quarantined.append(StatementProblem(position, rule))
            continue
        assert isinstance(statement, dict)
        status = verb_status(statement["verb"]["id"], extra_verbs)
        activity, source = _activity(statement, activities)
        own_id = statement.get("id")
        is_voided = isinstance(own_id, str) and own_id.strip().lower() in voided
        if statement["verb"]["id"] == VOIDED or is_voided or status is None or activity is None:
            ignored += 1
            continue
        learner = learner_id(statement["actor"]) or ""
        context = _object(statement, "context")
        registration = _text(context.get("registration"))
        registration = registration.lower() if registration else None  # a UUID: case does not matter
        record = records.get(key := (learner, activity, registration))
        if record is None:
            record = records[key] = Participation(learner, activity, registration)
        record.title = record.title or _title(source)
        extensions = _object(context, "extensions")
        nation = extensions.get(nation_extension) if nation_extension else None
        result = _object(statement, "result")
        when = (timestamp_utc(statement["timestamp"]), position)
        record.add(when, status, result, nation.strip() or None if isinstance(nation, str) else None)
        used += 1
    return Outcome(list(records.values()), used, ignored, quarantined)


@dataclass(frozen=True)
class XapiConfig:
    """A source config's ``[xapi]`` table (README "xAPI sources"); the names are a public interface."""

    nation: str | None = None  # one nation for the whole source
    nation_extension: str | None = None  # an IRI in context.extensions holding the learner's nation
    roster: str | None = None  # a CSV in the source folder: columns learner,nation
    activities: dict[str, str] = field(default_factory=dict)  # activity IRI -> catalogue activity_code
    verbs: dict[str, str] = field(default_factory=dict)  # verb IRI -> status (extends the default table)


def parse_xapi_config(table: object, origin: str = "<config>") -> XapiConfig:
    """The ``[xapi]`` table checked for names, types and values; a ValueError says what is wrong."""
    if not isinstance(table, dict):
        raise ValueError(f"{origin}: [xapi] must be a table")
    allowed = {"nation", "nation_extension", "roster", "activities", "verbs"}
    if unknown := set(table) - allowed:
        raise ValueError(f"{origin}: unknown key(s) {sorted(unknown)} in [xapi]; allowed: {sorted(allowed)}")
    for key in ("nation", "nation_extension", "roster"):
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            raise ValueError(f"{origin}: [xapi] {key} must be a non-blank string")
    roster = table.get("roster")
    if roster is not None and (roster != roster.strip() or any(c in roster for c in "/\\\0") or roster.startswith(".")):
        raise ValueError(f"{origin}: [xapi] roster must be a file name in the source folder (no folder, not hidden)")
    maps = {}
    for key in ("activities", "verbs"):
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(f"{origin}: [xapi.{key}] must be a table of strings")
        maps[key] = dict(value)
    if bad := sorted(set(maps["verbs"].values()) - set(STRENGTH)):
        raise ValueError(f"{origin}: [xapi.verbs] maps to {bad}; a verb stands for one of {list(STRENGTH)}")
    return XapiConfig(
        table.get("nation"), table.get("nation_extension"), table.get("roster"), maps["activities"], maps["verbs"]
    )


def landing_rows(
    outcome: Outcome,
    config: XapiConfig,
    defaults: dict[str, str],
    record_id: Callable[[str], str],
    roster: dict[str, str] | None = None,
) -> Iterator[dict[str, str | None]]:
    """The records as rows of the landing format, to go through the pipeline like any delivered row.

    ``source_record_id`` is ``record_id`` (a keyed hash) of learner, activity and registration, so a
    later export of the same LRS supersedes cleanly and no identifier shows in it. The nation comes from
    the config's constant, else the record's context extension, else the roster; none gives
    nation_missing. An activity the config does not map keeps its IRI as activity_code, so it is
    quarantined (activity_code_malformed) with the IRI in its offending values.
    """
    for record in outcome.records:
        score = record.score
        yield {
            "source_record_id": record_id(f"{record.learner}\x1f{record.activity}\x1f{record.registration or ''}"),
            "programme": defaults.get("programme", "training"),
            "activity_code": config.activities.get(record.activity, record.activity),
            "activity_title": record.title,
            "iteration_id": defaults.get("iteration_id"),
            "provider": defaults.get("provider"),
            "start_date": record.start_date,
            "end_date": record.end_date,
            "delivery_mode": defaults.get("delivery_mode", "online"),
            "nation": config.nation or record.nation or (roster or {}).get(record.learner),
            "participant_ref": record.learner,
            "headcount": "1",
            "sex": defaults.get("sex"),
            "rank": defaults.get("rank"),
            "role": defaults.get("role", "student"),
            "status": record.status,
            "score": None if score is None else f"{score:.4f}".rstrip("0").rstrip("."),
        }
