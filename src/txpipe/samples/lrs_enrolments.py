"""Enrolments of the synthetic LRS export: one learner in one course, as a stream of statement events.

Sequences are written as cmi5 writes them: launched, initialized, then experienced / progressed and
ignored verbs interleaved, then completed and/or passed / failed, terminated; some abandoned, some
failed then passed in a later session, some learners enrolling a second time, a few only registered,
and now and then one statement voided afterwards by an administrator.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from txpipe.samples.lrs_courses import AU
from txpipe.samples.lrs_statements import Event, Fragments
from txpipe.samples.lrs_vocab import (
    CAT_CMI5,
    CAT_MOVEON,
    DAY_MS,
    EXT_PROGRESS,
    EXT_SESSION,
    INTERACTIONS,
    MASTERY,
    NATION_EXTENSION,
    PLANS,
    SATISFIED_SHARE,
    SCALED_ONLY_SHARE,
    SECOND_CHANCE,
    VOID_SHARE,
)

_UUID_MASK = ~((0xF << 76) | (0x3 << 62))
_UUID_BITS = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


def _uuid(rng: random.Random) -> str:
    """A version 4 UUID drawn from ``rng`` (so the same seed gives the same ids)."""
    h = "%032x" % (rng.getrandbits(128) & _UUID_MASK | _UUID_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _duration(seconds: float) -> str:
    """An ISO 8601 duration of whole seconds: ``PT1H2M3S``."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{secs}S"


class Enrolment:
    """Generates the statements of one learner's enrolment in one course, in timestamp order."""

    def __init__(self, g: Fragments, rng: random.Random, start_ms: int):
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
        """A statement at the current time; the LMS writes in UTC, the learner's device maybe in local time.
        A ``candidate`` may become the statement this enrolment later voids (and is then kept free of defects)."""
        sid = _uuid(self.rng)
        protected = False
        if candidate and self.void and self.void_target is None and self.rng.random() < 0.5:
            self.void_target, protected = sid, True
        first, self.new_registration = self.new_registration, False
        return (self.t, None if lms else self.offset, sid, self.actor, verb, obj, result, context, protected, first)

    def _step(self, low: float, high: float) -> None:
        """Let between ``low`` and ``high`` seconds pass."""
        self.t += int(self.rng.uniform(low, high) * 1000)

    # sequences ----------------------------------------------------------------------------------
    def _events(self) -> Iterator[Event]:
        """The registrations of the enrolment (a second one now and then), then the voiding statement if any."""
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
        """One cmi5 registration following ``plan``: its AUs in order, then maybe "satisfied" from the LMS."""
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
        """The ``"score"`` member of a passed or failed result, consistent with :data:`MASTERY`."""
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

    def _session(self, au: AU, registration: str, outcome: str) -> Iterator[Event]:
        """One launch of an AU, ending in ``outcome``: launch_only, abandon, complete, pass or fail."""
        au_iri, au_object, assessed, _ = au
        session = _uuid(self.rng)
        plain, cmi5, moveon = self._contexts(registration, session, au_iri)
        began = self.t
        yield self._event("launched", au_object, "", cmi5, lms=True)
        if outcome == "launch_only":
            return
        self._step(2, 20)
        yield self._event("initialized", au_object, "", cmi5)
        yield from self._interactions(au, plain, cmi5)
        self._step(30, 900)
        if outcome == "abandon":
            self._step(1800, 7200)
            yield self._event("abandoned", au_object, f'{{"duration":"{self._took(began)}"}}', cmi5, lms=True)
            return
        yield from self._outcome(au_object, assessed, outcome, moveon, began)
        self._step(1, 20)
        yield self._event("terminated", au_object, f'{{"duration":"{self._took(began)}"}}', cmi5)

    def _interactions(self, au: AU, plain: str, cmi5: str) -> Iterator[Event]:
        """What the learner does inside an AU between initialized and the outcome: one to six steps."""
        rng = self.rng
        au_iri, au_object, _, au_names = au
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

    def _outcome(self, au_object: str, assessed: bool, outcome: str, moveon: str, began: int) -> Iterator[Event]:
        """The moveOn statements of a session that was not abandoned: completed, then passed or failed."""
        rng = self.rng
        if outcome == "complete" or (assessed and rng.random() < 0.5):
            yield self._completed(au_object, moveon, began)
            self._step(1, 30)
            if outcome == "complete" and rng.random() < 0.02:  # the AU sends it twice
                yield self._completed(au_object, moveon, began)
                self._step(1, 30)
        if outcome in ("pass", "fail") and assessed:
            passing = outcome == "pass"
            verb = "passed" if passing else "failed"
            yield self._event(
                verb,
                au_object,
                f'{{"success":{"true" if passing else "false"},{self._score(passing)},'
                f'"duration":"{self._took(began)}"}}',
                moveon,
                candidate=True,
            )
        elif outcome == "pass":  # an unassessed AU: completion is its moveOn
            yield self._completed(au_object, moveon, began)

    def _completed(self, au_object: str, moveon: str, began: int) -> Event:
        """A "completed" statement for the AU, with the session's duration so far."""
        return self._event(
            "completed", au_object, f'{{"completion":true,"duration":"{self._took(began)}"}}', moveon, candidate=True
        )

    def _took(self, began: int) -> str:
        """The ISO 8601 duration from ``began`` to now."""
        return _duration((self.t - began) / 1000)
