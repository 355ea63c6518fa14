"""Synthetic LRS exports: xAPI / cmi5 statements as JSON Lines, seeded, streamed, with planted defects.

The e-learning platform records learning as xAPI statements in a Learning Record Store (README
"xAPI sources"). :func:`write_lrs_export` writes what an export of such an LRS looks like:

- **learners**: a pool of about ``statements / 12`` synthetic people, identified by ``mbox``
  (``mailto:...@example.org``), ``account`` (homePage + name) or, for a few, ``mbox_sha1sum``; each
  has a made-up ``name`` and a partner nation from the reference (partners weighted over Allies, a
  few international organisations), written as ISO alpha-3 in the context extension
  :data:`NATION_EXTENSION`. A learner is derived from its number and the seed, so the pool costs
  no memory;
- **courses**: the catalogue's online activities, each a cmi5 course
  ``https://jadl.example.org/xapi/courses/<activity_code>`` of one to three AUs
  (``.../au/<n>``). Statements about an AU (or about a page, video or question inside it) carry the
  course in ``context.contextActivities.grouping`` and the attempt in ``context.registration``;
- **sequences** as cmi5 writes them: launched, initialized, then experienced / progressed and
  ignored verbs (ADL ``answered``, the video vocabulary's ``played``, ``viewed``) interleaved, then
  completed and/or passed / failed (``result.success`` consistent; score with raw, min, max and
  scaled, or scaled only), terminated; some abandoned, some failed then passed in a later session
  of the same registration, some learners enrolling a second time, a few only registered, and a
  small share of statements voided afterwards by an administrator's ``voided`` statement;
- **timestamps**: ISO 8601, mostly UTC (``Z``); learners whose device writes local time carry
  their offset (``+04:00``...). The file is ordered by timestamp, as an LRS export by ``stored``.

About ``defect_rate`` of the lines break one README rule each (the rule names of the README table);
the :class:`LrsManifest` lists them as (line number, rule). Voiding statements and their targets
are never damaged. The same seed writes the same bytes; the clean content does not depend on
``defect_rate`` (defects draw from their own random stream).

Memory is constant: the file is written as it is generated, holding only the few enrolments in
progress. ``txpipe generate OUT --lrs N`` writes an export beside the roster deliveries.
"""

from __future__ import annotations

import calendar
import hashlib
import heapq
import json
import random
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from txpipe.reference import Reference
from txpipe.samples.rosters import PARTNER_WEIGHT

NATION_EXTENSION = "https://jadl.example.org/xapi/extensions/nation"
COURSE_BASE = "https://jadl.example.org/xapi/courses/"
PROVIDER = "JADL"
LRS_SOURCE = "jadl-lrs"  # the e-learning source's LRS exports, as `txpipe generate --lrs` writes them
LRS_MANIFEST = ".txpipe-lrs.json"  # beside .txpipe-generate.json: the planted defects of the export

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
MASTERY = 0.8

LMS_HOME = "https://lms.jadl.example.org"
ACCOUNT_HOMES = (
    LMS_HOME,
    LMS_HOME,
    LMS_HOME,
    "https://moodle.partner.example.org",
    "https://ilias.partner.example.org",
)
AUTHORITY = {"objectType": "Agent", "name": "JADL LMS", "account": {"homePage": LMS_HOME, "name": "lms-client"}}
ADMIN = {"objectType": "Agent", "name": "JADL LRS administrator", "mbox": "mailto:lrs-admin@jadl.example.org"}

FIRST = (
    "Giorgi",
    "Nino",
    "Ana",
    "Levan",
    "Mariam",
    "Aram",
    "Lilit",
    "Elnur",
    "Aysel",
    "Oleksandr",
    "Olena",
    "Ion",
    "Elena",
    "Aigerim",
    "Nursultan",
    "Dilnoza",
    "Timur",
    "Bakyt",
    "Youssef",
    "Amina",
    "Karim",
    "Leila",
    "Omar",
    "Fatima",
    "Noa",
    "Yossi",
    "Hiroshi",
    "Yuki",
    "Min-jun",
    "Seo-yeon",
    "Camila",
    "Andrés",
    "Liam",
    "Chloé",
    "Sean",
    "Aoife",
    "Lukas",
    "Anna",
    "Marko",
    "Jelena",
    "Emir",
    "Amra",
    "Batbayar",
    "Saraa",
    "Ahmed",
    "Zainab",
    "Mia",
    "Jack",
    "Zoë",
    "Sofía",
    "Björn",
    "Karin",
    "Mateusz",
    "Agnieszka",
    "Jan",
    "Eva",
    "Pierre",
    "Camille",
    "Tomás",
    "Siobhán",
)
LAST = (
    "Beridze",
    "Kapanadze",
    "Maisuradze",
    "Petrosyan",
    "Hovhannisyan",
    "Aliyev",
    "Mammadova",
    "Shevchenko",
    "Kovalenko",
    "Rusu",
    "Ceban",
    "Nurlanova",
    "Abenov",
    "Karimova",
    "Usmonov",
    "Toktogulov",
    "Benali",
    "El Amrani",
    "Haddad",
    "Mansour",
    "Al-Khalifa",
    "Al-Sabah",
    "Cohen",
    "Levi",
    "Tanaka",
    "Sato",
    "Kim",
    "Park",
    "Rodríguez",
    "Gómez",
    "Murphy",
    "O'Brien",
    "Gruber",
    "Huber",
    "Jovanović",
    "Petrović",
    "Hadžić",
    "Begić",
    "Bold",
    "Ganbaatar",
    "Khan",
    "Qureshi",
    "Smith",
    "Taylor",
    "Müller",
    "Schmid",
    "Nowak",
    "Kowalska",
    "Novák",
    "Dubois",
    "Lefèvre",
    "Andersson",
    "Virtanen",
    "Brown",
    "Wilson",
)

# Device-local offsets of learners whose content writes local time (fixed offsets, DST ignored).
NATION_OFFSET = {
    "GEO": 240,
    "ARM": 240,
    "AZE": 240,
    "ARE": 240,
    "OMN": 240,
    "UKR": 120,
    "MDA": 120,
    "ISR": 120,
    "EGY": 120,
    "JOR": 180,
    "IRQ": 180,
    "QAT": 180,
    "KWT": 180,
    "BHR": 180,
    "KAZ": 300,
    "UZB": 300,
    "TJK": 300,
    "TKM": 300,
    "PAK": 300,
    "KGZ": 360,
    "MNG": 480,
    "JPN": 540,
    "KOR": 540,
    "AUS": 600,
    "NZL": 720,
    "COL": -300,
    "CAN": -300,
    "USA": -300,
    "MAR": 60,
    "TUN": 60,
    "DZA": 60,
}
LOCAL_TIME_SHARE = 0.3

# French titles of catalogue courses that are offered bilingually.
FRENCH_TITLES = {
    "ADL-169": "Améliorer l'efficacité opérationnelle en intégrant la perspective de genre",
    "ADL-073": "Code de conduite de l'OTAN",
    "ADL-201": "Introduction à l'intégrité",
    "ADL-190": "Protection des civils",
}
AU_TITLES = (
    ("Introduction", "Introduction"),
    ("Concepts and case studies", "Concepts et études de cas"),
    ("Final assessment", "Évaluation finale"),
)

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


@dataclass
class LrsManifest:
    """What :func:`write_lrs_export` wrote: counts, and every planted defect as (line, rule)."""

    path: str
    seed: int
    defect_rate: float
    statements: int
    learner_pool: int
    learners: int = 0  # learners with at least one statement in the file
    enrolments: int = 0  # learner x course enrolments with a statement in the file
    registrations: int = 0  # cmi5 registrations (attempts) with a statement in the file
    voiding: int = 0  # voiding statements written
    planted: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Course:
    code: str
    iri: str
    grouping: str  # the JSON of the course as a grouping context activity
    object: str  # the JSON of the course as a statement object
    aus: tuple  # (iri, object json, assessed, names) per AU
    bilingual: bool


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _names(en: str, fr: str | None) -> dict:
    return {"en-US": en, "fr-FR": fr} if fr else {"en-US": en}


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c == "-")


def online_courses(reference: Reference) -> list[tuple[str, str]]:
    """(activity_code, title) of the catalogue's online activities, in catalogue order."""
    online = reference.activities[reference.activities["delivery_mode"] == "online"]
    return list(zip(online["activity_code"], online["title"]))


def course_iri(code: str) -> str:
    return COURSE_BASE + code


def _courses(reference: Reference) -> list[_Course]:
    courses = []
    for code, title in online_courses(reference):
        iri = course_iri(code)
        fr = FRENCH_TITLES.get(code)
        # The structure depends on the course only, not on the seed: 1 to 3 AUs, the last assessed.
        n_aus = 1 + hashlib.sha256(code.encode()).digest()[0] % 3
        names = _names(title, fr)
        aus = []
        for n in range(1, n_aus + 1):
            en_part, fr_part = AU_TITLES[2] if n == n_aus and n_aus > 1 else AU_TITLES[min(n - 1, 1)]
            au_names = _names(
                f"{title}: {en_part}" if n_aus > 1 else title,
                (f"{fr} : {fr_part}" if n_aus > 1 else fr) if fr else None,
            )
            au_iri = f"{iri}/au/{n}"
            au_object = _dumps(
                {"objectType": "Activity", "id": au_iri, "definition": {"name": au_names, "type": TYPE_AU}}
            )
            aus.append((au_iri, au_object, n == n_aus, au_names))
        courses.append(
            _Course(
                code=code,
                iri=iri,
                grouping=_dumps(
                    {"objectType": "Activity", "id": iri, "definition": {"name": names, "type": TYPE_COURSE}}
                ),
                object=_dumps(
                    {"objectType": "Activity", "id": iri, "definition": {"name": names, "type": TYPE_COURSE}}
                ),
                aus=tuple(aus),
                bilingual=fr is not None,
            )
        )
    if not courses:
        raise ValueError("the activity catalogue holds no online activity")
    return courses


def lrs_source_config(reference: Reference) -> str:
    """The TOML source config of the generated exports (``data/sources/jadl-lrs.toml``)."""
    lines = [
        "# JADL Learning Record Store: xAPI / cmi5 statement exports as JSON Lines.",
        "# Written by txpipe.samples.lrs.lrs_source_config; regenerate rather than edit by hand.",
        'description = "JADL e-learning: xAPI statements exported from the Learning Record Store"',
        'format = "xapi"',
        "",
        "[xapi]",
        f'nation_extension = "{NATION_EXTENSION}"',
        "",
        "[xapi.activities]          # cmi5 course IRI = catalogue activity_code (AUs are found through grouping)",
    ]
    lines += [f'"{course_iri(code)}" = "{code}"' for code, _ in online_courses(reference)]
    lines += ["", "[defaults]", f'provider = "{PROVIDER}"', ""]
    return "\n".join(lines)


# -- learners -----------------------------------------------------------------------------------
class _Learners:
    """A pool of synthetic learners, each derived from (seed, number): nothing is stored but a bitmap."""

    def __init__(self, reference: Reference, seed: int, size: int):
        nations = reference.nations.drop_duplicates("code", keep="last")
        nations = nations[nations["status"] != "suspended"]  # suspended partners send no one
        self.nations = list(nations["code"])
        weights = [PARTNER_WEIGHT[f] for f in nations["framework"]]
        self.cum = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.seed = seed
        self.size = size
        self.seen = bytearray(size)
        self.cache: dict[int, tuple] = {}

    def get(self, number: int) -> tuple[str, str, int | None]:
        """(actor JSON, nation, device offset in minutes or None for UTC)."""
        if number in self.cache:
            return self.cache[number]
        r = random.Random(f"{self.seed}/learner/{number}")
        first, last = r.choice(FIRST), r.choice(LAST)
        name = f"{first} {last}"
        nation = r.choices(self.nations, cum_weights=self.cum)[0]
        kind = r.choices(("mbox", "account", "sha1"), (55, 38, 7))[0]
        mbox = f"mailto:{_ascii(first)}.{_ascii(last)}.{number}@example.org"
        if kind == "mbox":
            actor = {"objectType": "Agent", "name": name, "mbox": mbox}
        elif kind == "sha1":
            actor = {"objectType": "Agent", "name": name, "mbox_sha1sum": hashlib.sha1(mbox.encode()).hexdigest()}
        else:
            home = r.choice(ACCOUNT_HOMES)
            account = f"u{100000 + number}" if home == LMS_HOME else f"{_ascii(first)[:1]}{_ascii(last)}{number}"
            actor = {"objectType": "Agent", "name": name, "account": {"homePage": home, "name": account}}
        offset = NATION_OFFSET.get(nation) if r.random() < LOCAL_TIME_SHARE else None
        learner = (_dumps(actor), nation, offset)
        if len(self.cache) >= 4096:  # bounded: learners recur, the pool does not live in memory
            self.cache.clear()
        self.cache[number] = learner
        return learner


# -- enrolments: one learner in one course, as a stream of statement events ----------------------
_UUID_MASK = ~((0xF << 76) | (0x3 << 62))
_UUID_BITS = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


def _uuid(rng: random.Random) -> str:
    h = "%032x" % (rng.getrandbits(128) & _UUID_MASK | _UUID_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{secs}S"


# An event: (timestamp ms UTC, offset minutes or None, statement id, actor JSON, verb, object JSON,
#            result JSON or "", context JSON or "", protected from defects, first of its registration)
Event = tuple


class _Enrolment:
    """Generates the statements of one learner's enrolment in one course, in timestamp order."""

    def __init__(self, g: _Generator, rng: random.Random, start_ms: int):
        self.g, self.rng = g, rng
        self.learner = rng.randrange(g.learners.size)
        self.actor, self.nation, self.offset = g.learners.get(self.learner)
        self.course = rng.choice(g.courses)
        self.plan = rng.choices(list(PLANS), list(PLANS.values()))[0]
        self.t = start_ms
        self.void = rng.random() < VOID_SHARE
        self.void_target: str | None = None
        self.new_registration = False
        self.written = False  # set by the writer once its first statement is in the file
        self.events = self._events()

    # contexts ---------------------------------------------------------------------------------
    def _contexts(self, registration: str, session: str | None, au_iri: str | None) -> tuple[str, str, str]:
        """(plain, cmi5, cmi5 moveOn) context JSON for one session."""
        ext_json = (
            f'{{"{NATION_EXTENSION}":"{self.nation}","{EXT_SESSION}":"{session}"}}'
            if session
            else f'{{"{NATION_EXTENSION}":"{self.nation}"}}'
        )
        head = f'{{"registration":"{registration}","contextActivities":{{"grouping":[{self.course.grouping}]'
        # Pages, videos and questions inside an AU name it as their parent.
        parent = f'"parent":[{{"objectType":"Activity","id":"{au_iri}"}}],' if au_iri else ""
        plain = (
            f'{{"registration":"{registration}","contextActivities":{{{parent}"grouping":[{self.course.grouping}]'
            f'}},"extensions":{ext_json}}}'
        )
        cmi5 = f'{head},"category":[{{"id":"{CAT_CMI5}"}}]}},"extensions":{ext_json}}}'
        moveon = f'{head},"category":[{{"id":"{CAT_CMI5}"}},{{"id":"{CAT_MOVEON}"}}]}},"extensions":{ext_json}}}'
        return plain, cmi5, moveon

    def _event(
        self, verb: str, obj: str, result: str, context: str, lms: bool = False, candidate: bool = False
    ) -> Event:
        sid = _uuid(self.rng)
        protected = False
        if candidate and self.void and self.void_target is None and self.rng.random() < 0.5:
            self.void_target, protected = sid, True
        first, self.new_registration = self.new_registration, False
        return (self.t, None if lms else self.offset, sid, self.actor, verb, obj, result, context, protected, first)

    def _step(self, low: float, high: float) -> None:
        self.t += int(self.rng.uniform(low, high) * 1000)

    # sequences ----------------------------------------------------------------------------------
    def _events(self) -> Iterator[Event]:
        rng = self.rng
        plans = [self.plan]
        if rng.random() < SECOND_CHANCE.get(self.plan, 0.0):
            plans.append(rng.choices(("pass", "complete", "fail"), (70, 20, 10))[0])
        for number, plan in enumerate(plans):
            if number:
                self.t += int(rng.uniform(7, 60) * DAY_MS)
            self.new_registration = True
            yield from self._registration(plan)
        if self.void and self.void_target:
            self.t += int(rng.uniform(0.05, 12) * DAY_MS)
            sid = _uuid(rng)
            statement = (
                f'{{"id":"{sid}","actor":{self.g.admin},"verb":{self.g.verbs["voided"]},'
                f'"object":{{"objectType":"StatementRef","id":"{self.void_target}"}}'
            )
            yield (self.t, None, sid, "", "voided", statement, "", "", True, False)

    def _registration(self, plan: str) -> Iterator[Event]:
        rng, course = self.rng, self.course
        registration = _uuid(rng)
        plain, cmi5, _ = self._contexts(registration, None, None)
        if plan == "registered":
            yield self._event("registered", course.object, "", plain, lms=True)
            return
        aus = course.aus
        if plan == "partial" and len(aus) > 1:
            aus = aus[: rng.randint(1, len(aus) - 1)]
        elif plan in ("abandon", "launch_only"):
            aus = aus[: rng.randint(1, len(aus))]
        finished = True
        for index, au in enumerate(aus):
            last = index == len(aus) - 1
            if index:
                self.t += int(rng.uniform(0.1, 72) * 3600000)
            if plan == "launch_only" and last:
                yield from self._session(au, registration, "launch_only")
                finished = False
            elif plan == "abandon" and last:
                yield from self._session(au, registration, "abandon")
                finished = False
            elif plan in ("fail", "fail_then_pass") and au[2] and last:
                yield from self._session(au, registration, "fail")
                if plan == "fail_then_pass":
                    self.t += int(rng.uniform(1, 10) * DAY_MS)
                    yield from self._session(au, registration, "pass")
                else:
                    finished = False
            elif plan == "complete" or not au[2]:
                yield from self._session(au, registration, "complete")
            else:
                yield from self._session(au, registration, "pass")
        if plan == "partial" and len(course.aus) > 1:
            finished = False
        if finished and rng.random() < SATISFIED_SHARE:
            self._step(1, 5)
            yield self._event("satisfied", course.object, "", cmi5, lms=True)

    def _score(self, passing: bool) -> str:
        rng = self.rng
        scaled = rng.uniform(MASTERY, 1.0) if passing else rng.uniform(0.2, MASTERY - 0.01)
        top = rng.choice((10, 20, 25, 50, 100))
        raw = round(scaled * top)
        if (raw / top >= MASTERY) != passing:
            raw += -1 if passing is False else 1
        raw = max(0, min(top, raw))
        if rng.random() < SCALED_ONLY_SHARE:
            return f'"score":{{"scaled":{round(scaled, 4)}}}'
        return f'"score":{{"scaled":{round(raw / top, 4)},"raw":{raw},"min":0,"max":{top}}}'

    def _session(self, au: tuple, registration: str, outcome: str) -> Iterator[Event]:
        rng = self.rng
        au_iri, au_object, assessed, au_names = au
        session = _uuid(rng)
        plain, cmi5, moveon = self._contexts(registration, session, au_iri)
        began = self.t
        yield self._event("launched", au_object, "", cmi5, lms=True)
        if outcome == "launch_only":
            return
        self._step(2, 20)
        yield self._event("initialized", au_object, "", cmi5)
        for _ in range(rng.randint(1, 6)):
            self._step(20, 600)
            kind = INTERACTIONS[int(rng.random() * len(INTERACTIONS))]
            if kind == "progressed":
                yield self._event(
                    "progressed", au_object, f'{{"extensions":{{"{EXT_PROGRESS}":{rng.randrange(10, 100, 10)}}}}}', cmi5
                )
            elif kind == "answered":
                yield self._event(
                    "answered",
                    self.g.question(au_iri, rng.randint(1, 12), au_names),
                    f'{{"success":{"true" if rng.random() < 0.7 else "false"},"response":"{rng.choice("abcd")}"}}',
                    plain,
                )
            elif kind == "played":
                yield self._event("played", self.g.video(au_iri, au_names), "", plain)
            else:
                yield self._event(kind, self.g.page(au_iri, rng.randint(1, 9), au_names), "", plain)
        self._step(30, 900)
        if outcome == "abandon":
            self._step(1800, 7200)
            yield self._event(
                "abandoned", au_object, f'{{"duration":"{_duration((self.t - began) / 1000)}"}}', cmi5, lms=True
            )
            return
        if outcome == "complete" or (assessed and rng.random() < 0.5):
            yield self._event(
                "completed",
                au_object,
                f'{{"completion":true,"duration":"{_duration((self.t - began) / 1000)}"}}',
                moveon,
                candidate=True,
            )
            self._step(1, 30)
            if outcome == "complete" and rng.random() < 0.02:  # the AU sends it twice
                yield self._event(
                    "completed",
                    au_object,
                    f'{{"completion":true,"duration":"{_duration((self.t - began) / 1000)}"}}',
                    moveon,
                    candidate=True,
                )
                self._step(1, 30)
        if outcome in ("pass", "fail") and assessed:
            passing = outcome == "pass"
            verb = "passed" if passing else "failed"
            yield self._event(
                verb,
                au_object,
                f'{{"success":{"true" if passing else "false"},{self._score(passing)},'
                f'"duration":"{_duration((self.t - began) / 1000)}"}}',
                moveon,
                candidate=True,
            )
        elif outcome == "pass":  # an unassessed AU: completion is its moveOn
            yield self._event(
                "completed",
                au_object,
                f'{{"completion":true,"duration":"{_duration((self.t - began) / 1000)}"}}',
                moveon,
                candidate=True,
            )
        self._step(1, 20)
        yield self._event("terminated", au_object, f'{{"duration":"{_duration((self.t - began) / 1000)}"}}', cmi5)


# -- the writer ------------------------------------------------------------------------------------
class _Generator:
    def __init__(self, reference: Reference, seed: int, manifest: LrsManifest):
        self.courses = _courses(reference)
        self.learners = _Learners(reference, seed, manifest.learner_pool)
        self.manifest = manifest
        self.verbs = {name: _dumps({"id": iri, "display": {"en-US": name}}) for name, iri in VERBS.items()}
        self.admin = _dumps(ADMIN)
        self.authority = _dumps(AUTHORITY)
        self.objects: dict[tuple, str] = {}

    def _object(self, key: tuple, iri: str, en: str, fr: str | None, kind: str, extra: dict | None = None) -> str:
        if key not in self.objects:
            definition = {"name": _names(en, fr), "type": kind, **(extra or {})}
            self.objects[key] = _dumps({"objectType": "Activity", "id": iri, "definition": definition})
        return self.objects[key]

    def question(self, au_iri: str, n: int, names: dict) -> str:
        fr = names.get("fr-FR")
        return self._object(
            ("q", au_iri, n),
            f"{au_iri}/q/{n}",
            f"{names['en-US']}, question {n}",
            f"{fr}, question {n}" if fr else None,
            TYPE_QUESTION,
            {"interactionType": "choice", "correctResponsesPattern": ["b"]},
        )

    def video(self, au_iri: str, names: dict) -> str:
        fr = names.get("fr-FR")
        return self._object(
            ("v", au_iri), f"{au_iri}/video/1", f"{names['en-US']}, video", f"{fr}, vidéo" if fr else None, TYPE_VIDEO
        )

    def page(self, au_iri: str, n: int, names: dict) -> str:
        fr = names.get("fr-FR")
        return self._object(
            ("p", au_iri, n),
            f"{au_iri}/page/{n}",
            f"{names['en-US']}, page {n}",
            f"{fr}, page {n}" if fr else None,
            TYPE_PAGE,
        )


_DAYS: dict[int, str] = {}


def _day(day: int) -> str:
    """``YYYY-MM-DDT`` of a day since the epoch (memoised)."""
    text = _DAYS.get(day)
    if text is None:
        if len(_DAYS) > 4096:
            _DAYS.clear()
        text = _DAYS[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
    return text


def _iso(ms: int, offset: int | None) -> str:
    """ISO 8601 with milliseconds: ``Z``, or local time with its ``+hh:mm`` offset."""
    if offset is not None:
        ms += offset * 60000
    day, rest = divmod(ms, DAY_MS)
    hour, rest = divmod(rest, 3600000)
    minute, rest = divmod(rest, 60000)
    second, milli = divmod(rest, 1000)
    if offset is None:
        return f"{_day(day)}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"
    hours, minutes = divmod(abs(offset), 60)
    return (
        f"{_day(day)}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}"
        f"{'+' if offset >= 0 else '-'}{hours:02d}:{minutes:02d}"
    )


def _line(event: Event, stored_delay_ms: int, authority: str, verbs: dict[str, str]) -> str:
    ts, offset, sid, actor, verb, obj, result, context = event[:8]
    stamp, stored = _iso(ts, offset), _iso(ts + stored_delay_ms, None)
    if verb == "voided":  # obj holds the statement up to its object
        return f'{obj},"timestamp":"{stamp}","stored":"{stored}","authority":{authority},"version":"1.0.3"}}'
    return (
        f'{{"id":"{sid}","actor":{actor},"verb":{verbs[verb]},"object":{obj}'
        + (f',"result":{result}' if result else "")
        + f',"context":{context},"timestamp":"{stamp}","stored":"{stored}","authority":{authority},'
        '"version":"1.0.3"}'
    )


# -- defects -------------------------------------------------------------------------------------
def _damage(line: str, rule: str, rng: random.Random) -> str:
    """The line rewritten so that it breaks ``rule`` and no other rule of the README table."""
    if rule == "json_line_malformed":
        kind = rng.randrange(3)
        if kind == 0:
            return line[: len(line) // 2]  # cut off mid-object
        if kind == 1:
            return line[:-1] + ",}"  # a trailing comma
        return line.replace('"', "'", 8)  # single quotes from a hand-made export
    statement = json.loads(line)
    if rule == "xapi_statement_not_object":
        return rng.choice((_dumps([statement]), _dumps(line), "null"))  # wrapped, encoded twice, nothing
    if rule == "xapi_actor_missing":
        kind = rng.randrange(3)
        if kind == 0:
            del statement["actor"]
        elif kind == 1:
            statement["actor"] = None
        else:  # an identifier stripped by an over-eager export filter
            statement["actor"] = {"objectType": "Agent", "name": statement["actor"].get("name", "Learner")}
    elif rule == "xapi_verb_missing":
        kind = rng.randrange(3)
        display = statement["verb"]["display"]
        if kind == 0:
            del statement["verb"]
        elif kind == 1:
            statement["verb"] = {"display": display}
        else:
            statement["verb"] = display["en-US"]
    elif rule == "xapi_object_missing":
        del statement["object"]
    elif rule == "xapi_actor_group":
        member = statement["actor"]
        statement["actor"] = {
            "objectType": "Group",
            "name": "Syndicate 4",
            "account": {"homePage": LMS_HOME, "name": f"group-{rng.randint(1, 99)}"},
            "member": [member],
        }
    elif rule == "xapi_passed_but_unsuccessful":
        statement["verb"] = {"id": VERBS["passed"], "display": {"en-US": "passed"}}
        result = statement.setdefault("result", {})
        result["success"] = False
    elif rule == "xapi_failed_but_successful":
        statement["verb"] = {"id": VERBS["failed"], "display": {"en-US": "failed"}}
        result = statement.setdefault("result", {})
        result["success"] = True
    elif rule == "xapi_scaled_score_out_of_range":
        result = statement.setdefault("result", {})
        score = result.get("score") if isinstance(result.get("score"), dict) else {}
        score["scaled"] = rng.choice((85, 1.5, -2, "0.85", "85%"))  # a percentage, or text
        result["score"] = score
    elif rule == "xapi_timestamp_invalid":
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
    else:
        raise ValueError(f"unknown rule {rule}")
    return _dumps(statement)


def write_lrs_export(
    path: Path, reference: Reference, statements: int, seed: int = 2026, defect_rate: float = 0.0
) -> LrsManifest:
    """Write ``statements`` xAPI statements as JSON Lines (UTF-8) to ``path``, streaming.

    Deterministic for a seed. About ``defect_rate`` of the lines break one README rule each; the
    manifest lists them as (line number, rule)."""
    if statements < 0:
        raise ValueError("statements must not be negative")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError("defect_rate must be between 0 and 1")
    path = Path(path)
    manifest = LrsManifest(
        path=str(path), seed=seed, defect_rate=defect_rate, statements=0, learner_pool=max(20, round(statements / 12))
    )
    g = _Generator(reference, seed, manifest)
    rng = random.Random(f"{seed}:lrs")
    defects = random.Random(f"{seed}:lrs:defects")
    stored = random.Random(f"{seed}:lrs:stored")
    active = max(3, min(64, statements // 250))  # enrolments in progress at once
    heap: list[tuple[int, int, Event, _Enrolment]] = []
    serial = 0
    last_ts = T0_MS
    authority, verbs = g.authority, g.verbs
    planted = manifest.planted
    buffer: list[str] = []

    def start(written: int) -> None:
        nonlocal serial
        clock = max(T0_MS + SPAN_MS * written // max(statements, 1), last_ts)
        enrolment = _Enrolment(g, rng, clock + int(rng.uniform(0, 2) * DAY_MS))
        first = next(enrolment.events, None)
        if first is not None:
            serial += 1
            heapq.heappush(heap, (first[0], serial, first, enrolment))

    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        written = 0
        while written < statements:
            while len(heap) < active:
                start(written)
            ts, _, event, enrolment = heapq.heappop(heap)
            last_ts = ts
            if not enrolment.written:
                enrolment.written = True
                manifest.enrolments += 1
                g.learners.seen[enrolment.learner] = 1
            if event[9]:
                manifest.registrations += 1
            line = _line(event, 150 + int(stored.random() * 3850), authority, verbs)
            written += 1
            if event[4] == "voided":
                manifest.voiding += 1
            if defect_rate and not event[8] and defects.random() < defect_rate:
                rule = defects.choice(RULES)
                line = _damage(line, rule, defects)
                planted.append((written, rule))
            buffer.append(line)
            if len(buffer) >= 2048:
                buffer.append("")
                handle.write("\n".join(buffer))
                buffer.clear()
            following = next(enrolment.events, None)
            if following is not None:
                heapq.heappush(heap, (following[0], serial, following, enrolment))
                serial += 1
        if buffer:
            buffer.append("")
            handle.write("\n".join(buffer))
    manifest.statements = written
    manifest.learners = sum(g.learners.seen)
    return manifest
