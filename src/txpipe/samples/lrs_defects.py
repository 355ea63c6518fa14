"""Defects planted in the synthetic LRS export: a statement line rewritten to break one README rule."""

from __future__ import annotations

import calendar
import json
import random
import time
from collections.abc import Callable
from typing import Any

from txpipe.samples.lrs_vocab import LMS_HOME, VERBS, dumps

# The rules of the README table, in the order they are checked.
RULES = (
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

Statement = dict[str, Any]  # a statement as json.loads reads it


def damage(line: str, rule: str, rng: random.Random) -> str:
    """The line rewritten so that it breaks ``rule`` and no other rule of the README table."""
    if rule == "json_line_malformed":
        return _malformed(line, rng)
    statement = json.loads(line)
    if rule == "xapi_statement_not_object":
        return rng.choice((dumps([statement]), dumps(line), "null"))  # wrapped, encoded twice, nothing
    rewrite = _REWRITES.get(rule)
    if rewrite is None:
        raise ValueError(f"unknown rule {rule}")
    rewrite(statement, rng)
    return dumps(statement)


def _malformed(line: str, rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return line[: len(line) // 2]  # cut off mid-object
    if kind == 1:
        return line[:-1] + ",}"  # a trailing comma
    return line.replace('"', "'", 8)  # single quotes from a hand-made export


# -- rewrites of a parsed statement, in place -----------------------------------------------
def _actor_missing(statement: Statement, rng: random.Random) -> None:
    kind = rng.randrange(3)
    if kind == 0:
        del statement["actor"]
    elif kind == 1:
        statement["actor"] = None
    else:  # an identifier stripped by an over-eager export filter
        statement["actor"] = {"objectType": "Agent", "name": statement["actor"].get("name", "Learner")}


def _verb_missing(statement: Statement, rng: random.Random) -> None:
    kind = rng.randrange(3)
    display = statement["verb"]["display"]
    if kind == 0:
        del statement["verb"]
    elif kind == 1:
        statement["verb"] = {"display": display}
    else:
        statement["verb"] = display["en-US"]


def _object_missing(statement: Statement, rng: random.Random) -> None:
    del statement["object"]


def _actor_group(statement: Statement, rng: random.Random) -> None:
    member = statement["actor"]
    statement["actor"] = {
        "objectType": "Group",
        "name": "Syndicate 4",
        "account": {"homePage": LMS_HOME, "name": f"group-{rng.randint(1, 99)}"},
        "member": [member],
    }


def _passed_but_unsuccessful(statement: Statement, rng: random.Random) -> None:
    statement["verb"] = {"id": VERBS["passed"], "display": {"en-US": "passed"}}
    result = statement.setdefault("result", {})
    result["success"] = False


def _failed_but_successful(statement: Statement, rng: random.Random) -> None:
    statement["verb"] = {"id": VERBS["failed"], "display": {"en-US": "failed"}}
    result = statement.setdefault("result", {})
    result["success"] = True


def _scaled_score_out_of_range(statement: Statement, rng: random.Random) -> None:
    result = statement.setdefault("result", {})
    score = result.get("score") if isinstance(result.get("score"), dict) else {}
    score["scaled"] = rng.choice((85, 1.5, -2, "0.85", "85%"))  # a percentage, or text
    result["score"] = score


def _timestamp_invalid(statement: Statement, rng: random.Random) -> None:
    stamp = statement["timestamp"]
    kind = rng.randrange(4)
    if kind == 0:
        del statement["timestamp"]
    elif kind == 1:  # a day that does not exist
        statement["timestamp"] = f"{stamp[:4]}-02-30{stamp[10:]}"
    elif kind == 2:  # day-first, as a spreadsheet writes it
        statement["timestamp"] = f"{stamp[8:10]}/{stamp[5:7]}/{stamp[:4]} {stamp[11:16]}"
    else:  # epoch milliseconds
        statement["timestamp"] = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) * 1000


_REWRITES: dict[str, Callable[[Statement, random.Random], None]] = {
    "xapi_actor_missing": _actor_missing,
    "xapi_verb_missing": _verb_missing,
    "xapi_object_missing": _object_missing,
    "xapi_actor_group": _actor_group,
    "xapi_passed_but_unsuccessful": _passed_but_unsuccessful,
    "xapi_failed_but_successful": _failed_but_successful,
    "xapi_scaled_score_out_of_range": _scaled_score_out_of_range,
    "xapi_timestamp_invalid": _timestamp_invalid,
}
