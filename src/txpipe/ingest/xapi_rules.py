"""The rules an xAPI statement is read by: what its verb means, which outcome is strongest, what
quarantines it, and how its learner, timestamp and score are read (README "xAPI sources", issue 13).

- verbs are matched by IRI through :data:`DEFAULT_VERBS` (ADL's and cmi5's), then by the last path
  segment of the IRI (:data:`SEGMENT_STATUS`), and a source config can add its own; a verb that says
  nothing about participation stands for no status;
- :data:`STRENGTH` orders the outcomes, weakest first (registered, attended, completed, failed, passed);
- :func:`problem` names the first of :data:`RULES` a statement breaks.

Statements are parsed JSON: nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/adl/verbs/"

# A JSON object as parsed (its values are any JSON).
JsonObject = dict[str, Any]

# Status by last path segment of a verb IRI (ADL, cmi5 and other vocabularies alike).
SEGMENT_STATUS: dict[str, str] = {
    "passed": "passed",
    "failed": "failed",
    "completed": "completed",
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


def json_object(parent: JsonObject, key: str) -> JsonObject:
    """The JSON object under ``key``, or an empty one if it is absent or not an object."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def nonblank_text(value: object) -> str | None:
    """A non-blank string, stripped; None for anything else."""
    return value.strip() or None if isinstance(value, str) else None


# The version of the learner key (:func:`learner_id`), which becomes participant_pid: 2 is typed
# (``kind:value``). Version 1 wrote the value alone (``homePage|name`` for an account), so that two
# learners could share a key. The re-judge of held deliveries folds it into its fingerprint.
LEARNER_KEY_VERSION = 2


def _escaped(text: str) -> str:
    """An account's homePage or name with ``\\`` and ``|`` escaped, so that the first unescaped ``|``
    of the key separates the two."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def account_key(home: str, name: str) -> str:
    """The learner key of an account: ``account:<homePage>|<name>``, each part escaped."""
    return f"account:{_escaped(home)}|{_escaped(name)}"


def learner_id(actor: JsonObject) -> str | None:
    """The learner's key, typed and unambiguous: ``mbox:mailto:...``, ``mbox_sha1sum:<hex>`` (lower
    case), ``openid:<url>`` or ``account:<homePage>|<name>`` (``\\`` and ``|`` in either escaped with
    ``\\``); None if the actor has none (blank ones count as none). Values are stripped."""
    if mbox := nonblank_text(actor.get("mbox")):
        return f"mbox:{mbox}"
    if sha1 := nonblank_text(actor.get("mbox_sha1sum")):
        return f"mbox_sha1sum:{sha1.lower()}"
    if openid := nonblank_text(actor.get("openid")):
        return f"openid:{openid}"
    account = actor.get("account")
    if (
        isinstance(account, dict)
        and (home := nonblank_text(account.get("homePage")))
        and (name := nonblank_text(account.get("name")))
    ):
        return account_key(home, name)
    return None


_ACCOUNT_TOKEN = re.compile(r"\\([\\|])|\|")  # an escaped \ or |, or the separating |


def split_account(text: str) -> tuple[str, str] | None:
    """A roster's ``homePage|name`` as its two parts, unescaped (``\\|`` is a ``|``, ``\\\\`` a
    ``\\``, and a ``\\`` before anything else stands for itself); None unless exactly one ``|`` is
    unescaped."""
    parts: list[list[str]] = [[]]
    last = 0
    for token in _ACCOUNT_TOKEN.finditer(text):
        parts[-1].append(text[last : token.start()])
        if token.group(1):
            parts[-1].append(token.group(1))
        else:
            parts.append([])
        last = token.end()
    parts[-1].append(text[last:])
    return ("".join(parts[0]), "".join(parts[1])) if len(parts) == 2 else None


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


def score_percent(result: object) -> float | None:
    """(raw - min) / (max - min) x 100 when all three are numbers; else scaled x 100 when 0..1; else None
    (also when the arithmetic leaves the finite numbers, or ``result`` is not a JSON object)."""
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
    if not isinstance(verb, dict) or nonblank_text(verb.get("id")) is None:
        return "xapi_verb_missing"
    if not isinstance(target, dict):
        return "xapi_object_missing"
    if actor.get("objectType") == "Group":
        return "xapi_actor_group"
    result = json_object(statement, "result")
    status = verb_status(verb["id"], extra_verbs)
    if status == "passed" and result.get("success") is False:
        return "xapi_passed_but_unsuccessful"
    if status == "failed" and result.get("success") is True:
        return "xapi_failed_but_successful"
    scaled = json_object(result, "score").get("scaled")
    if scaled is not None and not ((number := _finite(scaled)) is not None and -1 <= number <= 1):
        return "xapi_scaled_score_out_of_range"
    if timestamp_utc(statement.get("timestamp")) is None:
        return "xapi_timestamp_invalid"
    return None
