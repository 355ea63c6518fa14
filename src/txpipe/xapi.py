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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/adl/verbs/"

# Status by last path segment of a verb IRI (ADL, cmi5 and other vocabularies alike).
SEGMENT_STATUS: dict[str, str] = {
    "passed": "passed",
    "failed": "failed",
    "completed": "completed",
    **{verb: "attended" for verb in ("launched", "initialized", "attempted", "attended", "experienced",
                                      "progressed", "resumed", "terminated", "abandoned")},
    "registered": "registered",
}
# The documented default table: ADL's and cmi5's verb IRIs.
DEFAULT_VERBS: dict[str, str] = {
    **{ADL + segment: status for segment, status in SEGMENT_STATUS.items()},
    **{CMI5 + segment: status for segment, status in SEGMENT_STATUS.items()},
}
STRENGTH = ("registered", "attended", "completed", "failed", "passed")  # weakest first


@dataclass(frozen=True)
class StatementProblem:
    """A statement quarantined: its position (array index or line) and the rule it broke."""

    position: int
    rule: str


@dataclass
class Participation:
    """What the used statements say about one learner in one activity (and registration)."""

    learner: str
    activity: str
    registration: str | None
    title: str | None = None
    nation: str | None = None
    positions: list[int] = field(default_factory=list)
    _used: list[tuple[dt.datetime, int, str, dict]] = field(default_factory=list, repr=False)

    @property
    def status(self) -> str:
        return max((status for _, _, status, _ in self._used), key=STRENGTH.index)

    @property
    def start_date(self) -> str:
        return min(self._used)[0].date().isoformat()

    @property
    def end_date(self) -> str:
        return max(self._used)[0].date().isoformat()

    @property
    def score(self) -> float | None:
        deciding = [item for item in self._used if item[2] == self.status]
        if self.status not in ("passed", "failed") or not deciding:
            return None
        return score_percent(max(deciding)[3])


@dataclass(frozen=True)
class Outcome:
    records: list[Participation]
    used: int
    ignored: int
    quarantined: list[StatementProblem]

    @property
    def read(self) -> int:
        return self.used + self.ignored + len(self.quarantined)


def learner_id(actor: dict) -> str | None:
    """The learner's identifier as xAPI writes it: mailto:..., the mbox_sha1sum hex, the openid URL,
    or ``homePage|name`` for an account; None if the actor has none."""
    if isinstance(actor.get("mbox"), str):
        return actor["mbox"].strip()
    if isinstance(actor.get("mbox_sha1sum"), str):
        return actor["mbox_sha1sum"].strip().lower()
    if isinstance(actor.get("openid"), str):
        return actor["openid"].strip()
    account = actor.get("account")
    if isinstance(account, dict) and isinstance(account.get("homePage"), str) and isinstance(account.get("name"), str):
        return f"{account['homePage'].strip()}|{account['name'].strip()}"
    return None


def verb_status(iri: str, extra: dict[str, str] | None = None) -> str | None:
    """The participation status a verb IRI stands for, or None if it says nothing about participation."""
    if extra and iri in extra:
        return extra[iri]
    if iri in DEFAULT_VERBS:
        return DEFAULT_VERBS[iri]
    return SEGMENT_STATUS.get(iri.rstrip("/").rsplit("/", 1)[-1].casefold())


def timestamp_utc(value: object) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; None if it is not one."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def score_percent(result: dict) -> float | None:
    """(raw - min) / (max - min) x 100 when all three are given; else scaled x 100 when 0..1; else None."""
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None
    raw, low, high, scaled = (score.get(k) for k in ("raw", "min", "max", "scaled"))
    if all(_number(v) for v in (raw, low, high)) and high != low:
        return (raw - low) / (high - low) * 100
    if _number(scaled) and 0 <= scaled <= 1:
        return scaled * 100
    return None


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def problem(statement: object, extra_verbs: dict[str, str] | None = None) -> str | None:
    """The rule a statement breaks, or None."""
    if not isinstance(statement, dict):
        return "xapi_statement_not_object"
    actor, verb, target = statement.get("actor"), statement.get("verb"), statement.get("object")
    if not isinstance(actor, dict):
        return "xapi_actor_missing"
    if not isinstance(verb, dict) or not isinstance(verb.get("id"), str):
        return "xapi_verb_missing"
    if not isinstance(target, dict):
        return "xapi_object_missing"
    if actor.get("objectType") == "Group":
        return "xapi_actor_group"
    if learner_id(actor) is None:
        return "xapi_actor_missing"  # an Agent with no identifier names no learner
    result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
    status = verb_status(verb["id"], extra_verbs)
    if status == "passed" and result.get("success") is False:
        return "xapi_passed_but_unsuccessful"
    if status == "failed" and result.get("success") is True:
        return "xapi_failed_but_successful"
    scaled = (result.get("score") or {}).get("scaled") if isinstance(result.get("score"), dict) else None
    if scaled is not None and not (_number(scaled) and -1 <= scaled <= 1):
        return "xapi_scaled_score_out_of_range"
    if timestamp_utc(statement.get("timestamp")) is None:
        return "xapi_timestamp_invalid"
    return None


def _title(target: dict) -> str | None:
    names = (target.get("definition") or {}).get("name") if isinstance(target.get("definition"), dict) else None
    if not isinstance(names, dict) or not names:
        return None
    ranked = sorted(names, key=lambda tag: (tag != "en", tag != "en-US", tag != "en-GB",
                                            not str(tag).startswith("en"), str(tag)))
    value = names[ranked[0]]
    return value if isinstance(value, str) else None


def _activity(statement: dict) -> str | None:
    target = statement["object"]
    return target.get("id") if isinstance(target.get("id"), str) else None


def participations(statements: Iterable[tuple[int, object]], extra_verbs: dict[str, str] | None = None,
                   nation_extension: str | None = None) -> Outcome:
    """Statements (position, parsed JSON) -> participation records, with every statement accounted for.
    With ``nation_extension``, a record's nation is the last one its used statements give there."""
    quarantined: list[StatementProblem] = []
    valid: list[tuple[int, dict]] = []
    for position, statement in statements:
        rule = problem(statement, extra_verbs)
        if rule:
            quarantined.append(StatementProblem(position, rule))
        else:
            valid.append((position, statement))
    voided = {s["object"].get("id") for _, s in valid if s["verb"]["id"] == VOIDED}
    records: dict[tuple[str, str, str | None], Participation] = {}
    used = ignored = 0
    for position, statement in valid:
        status = verb_status(statement["verb"]["id"], extra_verbs)
        learner, activity = learner_id(statement["actor"]) or "", _activity(statement)
        if statement["verb"]["id"] == VOIDED or statement.get("id") in voided or status is None or activity is None:
            ignored += 1
            continue
        context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
        registration = context.get("registration") if isinstance(context.get("registration"), str) else None
        key = (learner, activity, registration)
        record = records.setdefault(key, Participation(learner, activity, registration))
        record.title = record.title or _title(statement["object"])
        extensions = context.get("extensions") if isinstance(context.get("extensions"), dict) else {}
        if nation_extension and isinstance(extensions.get(nation_extension), str):
            record.nation = extensions[nation_extension].strip() or record.nation
        result = statement.get("result") if isinstance(statement.get("result"), dict) else {}
        record._used.append((timestamp_utc(statement["timestamp"]), position, status, result))
        record.positions.append(position)
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
        if key in table and not isinstance(table[key], str):
            raise ValueError(f"{origin}: [xapi] {key} must be a string")
    maps = {}
    for key in ("activities", "verbs"):
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError(f"{origin}: [xapi.{key}] must be a table of strings")
        maps[key] = dict(value)
    if bad := sorted(set(maps["verbs"].values()) - set(STRENGTH)):
        raise ValueError(f"{origin}: [xapi.verbs] maps to {bad}; a verb stands for one of {list(STRENGTH)}")
    return XapiConfig(table.get("nation"), table.get("nation_extension"), table.get("roster"),
                      maps["activities"], maps["verbs"])


def landing_rows(outcome: Outcome, config: XapiConfig, defaults: dict[str, str], record_id: Callable[[str], str],
                 roster: dict[str, str] | None = None) -> list[dict[str, str | None]]:
    """The records as rows of the landing format, to go through the pipeline like any delivered row.

    ``source_record_id`` is ``record_id`` (a keyed hash) of learner, activity and registration, so a
    later export of the same LRS supersedes cleanly and no identifier shows in it. The nation comes from
    the config's constant, else the record's context extension, else the roster; none gives
    nation_missing. An activity the config does not map keeps its IRI as activity_code, so it is
    quarantined (activity_code_malformed) with the IRI in its offending values.
    """
    rows = []
    for record in outcome.records:
        score = record.score
        rows.append({
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
            "score": None if score is None else f"{score:g}",
        })
    return rows
