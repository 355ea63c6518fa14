"""The vocabulary of the synthetic LRS export: names and places of the export, xAPI / cmi5 IRIs, the verbs
written, the agents of the LMS, the share of each learner behaviour, and the export's time span."""

from __future__ import annotations

import json

NATION_EXTENSION = "https://jadl.example.org/xapi/extensions/nation"
COURSE_BASE = "https://jadl.example.org/xapi/courses/"
PROVIDER = "JADL"
LRS_SOURCE = "jadl-lrs"  # the e-learning source's LRS exports, as `txpipe generate --lrs` writes them
LRS_MANIFEST = ".txpipe-lrs.json"  # beside .txpipe-generate.json: the planted defects of the export

ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/adl/verbs/"
VOIDED = ADL + "voided"
VERBS: dict[str, str] = {
    "launched": ADL + "launched",
    "initialized": ADL + "initialized",
    "experienced": ADL + "experienced",
    "progressed": ADL + "progressed",
    "answered": ADL + "answered",  # ignored
    "played": "https://w3id.org/xapi/video/verbs/played",  # ignored
    "viewed": "http://id.tincanapi.com/verb/viewed",  # ignored
    "completed": ADL + "completed",
    "passed": ADL + "passed",
    "failed": ADL + "failed",
    "terminated": ADL + "terminated",
    "abandoned": CMI5 + "abandoned",
    "satisfied": CMI5 + "satisfied",  # ignored (says nothing about participation)
    "registered": ADL + "registered",
    "voided": VOIDED,
}

CAT_CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
CAT_MOVEON = "https://w3id.org/xapi/cmi5/context/categories/moveon"
EXT_SESSION = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
EXT_PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"
TYPE_COURSE = "https://w3id.org/xapi/cmi5/activitytype/course"
TYPE_AU = "http://adlnet.gov/expapi/activities/module"
TYPE_QUESTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
TYPE_VIDEO = "https://w3id.org/xapi/video/activity-type/video"
TYPE_PAGE = "http://activitystrea.ms/schema/1.0/page"
MASTERY = 0.8  # the scaled score from which an assessed AU is passed

# The LMS that launches AUs and is the authority of every statement; the administrator who voids.
LMS_HOME = "https://lms.jadl.example.org"
AUTHORITY = {"objectType": "Agent", "name": "JADL LMS", "account": {"homePage": LMS_HOME, "name": "lms-client"}}
ADMIN = {"objectType": "Agent", "name": "JADL LRS administrator", "mbox": "mailto:lrs-admin@jadl.example.org"}

# Enrolment plans and their weights; a second registration may follow the ones in SECOND_CHANCE.
PLANS = {
    "pass": 50,
    "complete": 12,
    "fail_then_pass": 9,
    "fail": 6,
    "abandon": 10,
    "partial": 6,
    "registered": 4,
    "launch_only": 3,
}
SECOND_CHANCE = {"abandon": 0.4, "fail": 0.5, "launch_only": 0.3, "pass": 0.03, "complete": 0.05}
# What a learner does inside an AU between initialized and the outcome (by frequency).
INTERACTIONS = ("experienced",) * 3 + ("progressed",) * 3 + ("answered",) * 3 + ("played",) + ("viewed",) * 2
VOID_SHARE = 0.08  # of enrolments, one statement is voided afterwards
SCALED_ONLY_SHARE = 0.2  # of scores, written as scaled only
SATISFIED_SHARE = 0.6  # of finished registrations, the LMS also writes cmi5 "satisfied"

T0_MS = 1609718400000  # 2021-01-04T00:00:00Z
SPAN_MS = 1790 * 86400000  # about five years
DAY_MS = 86400000


def dumps(value: object) -> str:
    """Compact JSON as statements are written: no spaces, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
