"""xAPI statements (an LRS export) -> participation records.

The e-learning platform and partner LMSs record learning as xAPI statements, not rosters. This
module turns a delivery's statements into one participation record per learner, activity and
registration (README "xAPI sources"), following the rules of issue 13:

- a statement that is not an object, gives a key twice in one of its objects (the reader marks it,
  :class:`~txpipe.ingest.readers.text_rules.RepeatedKeys`), lacks actor, verb or object, has a Group
  as actor, or contradicts itself is quarantined with the rule's name and its position;
- a ``voided`` statement removes its target, and so does a void of another export of the source
  (its fingerprint, :mod:`txpipe.ingest.xapi_voids`); both count as ignored;
- a statement whose object is not an activity (:mod:`txpipe.ingest.xapi_activity`) is ignored;
- verbs are matched by IRI through :data:`DEFAULT_VERBS` (ADL's and cmi5's), then by the last path
  segment of the IRI (:data:`SEGMENT_STATUS`), and a source config can add its own; a verb that says
  nothing about participation is ignored (counted, never silently dropped);
- the strongest outcome wins (passed, failed, completed, attended, registered); the dates are those
  of the first and last statements used; the score comes from the last statement with the deciding
  verb.

Accounting: statements read = used + ignored + quarantined. Nothing here does I/O; the learner's
identifier leaves this module only as ``participant_ref``, which the pipeline pseudonymises at once.

This module makes the records; the verb, outcome and quarantine rules it applies are in
:mod:`txpipe.ingest.xapi_rules` and the ``[xapi]`` config in :mod:`txpipe.ingest.xapi_config`, both
re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field

from txpipe.ingest.readers.text_rules import RepeatedKeys
from txpipe.ingest.xapi_activity import TitleBook, activity_of, title
from txpipe.ingest.xapi_config import XapiConfig, parse_xapi_config
from txpipe.ingest.xapi_rules import (
    ADL,
    CMI5,
    DEFAULT_VERBS,
    LEARNER_KEY_VERSION,
    SEGMENT_STATUS,
    STRENGTH,
    VOIDED,
    JsonObject,
    json_object,
    learner_id,
    nonblank_text,
    problem,
    score_percent,
    timestamp_utc,
    verb_status,
)
from txpipe.ingest.xapi_rules import RULES as _PROBLEM_RULES
from txpipe.ingest.xapi_voids import is_voided, void_fingerprint, voided_fingerprints

# Every rule a statement can break, in the order they are checked: those of xapi_rules.problem, with
# the repeated key (found as the statement is parsed) checked first after "not an object".
DUPLICATE_KEY = "xapi_duplicate_key"
RULES: dict[str, str] = {
    "xapi_statement_not_object": _PROBLEM_RULES["xapi_statement_not_object"],
    DUPLICATE_KEY: "an object in the statement gives the same key more than once (keys compared exactly)",
    **_PROBLEM_RULES,
}

__all__ = [
    "ADL",
    "CMI5",
    "DEFAULT_VERBS",
    "DUPLICATE_KEY",
    "LEARNER_KEY_VERSION",
    "RULES",
    "SEGMENT_STATUS",
    "STRENGTH",
    "VOIDED",
    "Outcome",
    "Participation",
    "StatementProblem",
    "XapiConfig",
    "landing_rows",
    "learner_id",
    "parse_xapi_config",
    "participations",
    "problem",
    "score_percent",
    "timestamp_utc",
    "verb_status",
    "void_fingerprint",
    "voided_fingerprints",
]


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

    def add(self, when: tuple[dt.datetime, int], status: str, result: JsonObject, nation: str | None) -> None:
        """Take one used statement into the summary."""
        self.positions.append(when[1])
        self._first = when if self._first is None else min(self._first, when)
        self._last = when if self._last is None else max(self._last, when)
        # The deciding statement: the first, then one of a stronger status, or a later one of the same status.
        if (
            self._deciding is None
            or STRENGTH.index(status) > STRENGTH.index(self.status)
            or (status == self.status and when > self._deciding)
        ):
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


def participations(
    statements: Iterable[tuple[int, object]],
    extra_verbs: dict[str, str] | None = None,
    nation_extension: str | None = None,
    activities: Container[str] = (),
    voided: set[str] | None = None,
    voided_elsewhere: frozenset[str] = frozenset(),
) -> Outcome:
    """Statements (position, parsed JSON) -> participation records, with every statement accounted for.

    ``activities``: the activity IRIs the config maps (a statement about an unmapped object counts for
    the mapped cmi5 course in its grouping). With ``nation_extension``, a record's nation is the one the
    last of its used statements gives there. ``voided``: the fingerprints (:func:`void_fingerprint`) of
    the statements voided in the whole delivery, when the caller found them in a first pass over a
    stream; without it the statements are read into a list and searched here. ``voided_elsewhere``: the
    fingerprints voided by the source's other exports, applied as the delivery's own. A record whose
    statements name no title takes the first its activity has in the delivery (:class:`TitleBook`)."""
    if voided is None:
        statements = list(statements)
        voided = voided_fingerprints(statements, extra_verbs)
    voided = voided | voided_elsewhere if voided_elsewhere else voided
    quarantined: list[StatementProblem] = []
    records: dict[tuple[str, str, str | None], Participation] = {}
    titles = TitleBook()
    used = ignored = 0
    for position, statement in statements:
        if rule := DUPLICATE_KEY if isinstance(statement, RepeatedKeys) else problem(statement, extra_verbs):
            quarantined.append(StatementProblem(position, rule))
            continue
        assert isinstance(statement, dict)
        if is_voided(statement, voided):
            ignored += 1
            continue
        titles.note(statement)
        status = verb_status(statement["verb"]["id"], extra_verbs)
        activity, source = activity_of(statement, activities)
        if statement["verb"]["id"] == VOIDED or status is None or activity is None:
            ignored += 1
            continue
        record = _record(records, statement, activity, source)
        nation = _nation(statement, nation_extension)
        record.add(_when(statement, position), status, json_object(statement, "result"), nation)
        used += 1
    for record in records.values():
        record.title = record.title or titles.get(record.activity)
    return Outcome(list(records.values()), used, ignored, quarantined)


def _record(
    records: dict[tuple[str, str, str | None], Participation], statement: JsonObject, activity: str, source: object
) -> Participation:
    """The record of the statement's learner, activity and registration (made at its first statement),
    titled from ``source`` (the activity object) unless it has a title already."""
    learner = learner_id(statement["actor"]) or ""
    registration = nonblank_text(json_object(statement, "context").get("registration"))
    registration = registration.lower() if registration else None  # a UUID: case does not matter
    record = records.get(key := (learner, activity, registration))
    if record is None:
        record = records[key] = Participation(learner, activity, registration)
    record.title = record.title or title(source)
    return record


def _nation(statement: JsonObject, nation_extension: str | None) -> str | None:
    """The learner's nation the statement gives in its context extension ``nation_extension``, if any."""
    extensions = json_object(json_object(statement, "context"), "extensions")
    nation = extensions.get(nation_extension) if nation_extension else None
    return nation.strip() or None if isinstance(nation, str) else None


def _when(statement: JsonObject, position: int) -> tuple[dt.datetime, int]:
    """Where a used statement falls in time order: its timestamp (UTC), then its position in the file."""
    timestamp = timestamp_utc(statement["timestamp"])
    assert timestamp is not None  # problem() quarantines a statement without a valid timestamp
    return timestamp, position


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
