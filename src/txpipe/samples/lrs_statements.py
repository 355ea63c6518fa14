"""Statements of the synthetic LRS export as JSON text: the events enrolments produce, the JSON fragments
they share (verbs, agents, activities inside AUs), and the line an event becomes in the file."""

from __future__ import annotations

import time

from txpipe.reference import Reference
from txpipe.samples.lrs_courses import Course, courses, language_map
from txpipe.samples.lrs_learners import Learners
from txpipe.samples.lrs_vocab import (
    ADMIN,
    AUTHORITY,
    DAY_MS,
    TYPE_PAGE,
    TYPE_QUESTION,
    TYPE_VIDEO,
    VERBS,
    dumps,
)

# An event: (timestamp ms UTC, offset minutes or None, statement id, actor JSON, verb, object JSON,
#            result JSON or "", context JSON or "", protected from defects, first of its registration)
Event = tuple[int, int | None, str, str, str, str, str, str, bool, bool]


class Fragments:
    """What every statement is assembled from: the courses, the learners, the verbs and agents as JSON,
    and the JSON of the pages, videos and questions inside AUs (made once, on first use)."""

    def __init__(self, reference: Reference, seed: int, learner_pool: int):
        self.courses: list[Course] = courses(reference)
        self.learners = Learners(reference, seed, learner_pool)
        self.verbs = {name: dumps({"id": iri, "display": {"en-US": name}}) for name, iri in VERBS.items()}
        self.admin = dumps(ADMIN)
        self.authority = dumps(AUTHORITY)
        self.objects: dict[tuple[str | int, ...], str] = {}

    def _object(
        self,
        key: tuple[str | int, ...],
        iri: str,
        en: str,
        fr: str | None,
        kind: str,
        extra: dict[str, object] | None = None,
    ) -> str:
        if key not in self.objects:
            definition = {"name": language_map(en, fr), "type": kind, **(extra or {})}
            self.objects[key] = dumps({"objectType": "Activity", "id": iri, "definition": definition})
        return self.objects[key]

    def question(self, au_iri: str, n: int, names: dict[str, str]) -> str:
        """Question ``n`` of an AU (a choice interaction)."""
        fr = names.get("fr-FR")
        return self._object(
            ("q", au_iri, n),
            f"{au_iri}/q/{n}",
            f"{names['en-US']}, question {n}",
            f"{fr}, question {n}" if fr else None,
            TYPE_QUESTION,
            {"interactionType": "choice", "correctResponsesPattern": ["b"]},
        )

    def video(self, au_iri: str, names: dict[str, str]) -> str:
        """The video of an AU."""
        fr = names.get("fr-FR")
        return self._object(
            ("v", au_iri), f"{au_iri}/video/1", f"{names['en-US']}, video", f"{fr}, vidéo" if fr else None, TYPE_VIDEO
        )

    def page(self, au_iri: str, n: int, names: dict[str, str]) -> str:
        """Page ``n`` of an AU."""
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


def line(event: Event, stored_delay_ms: int, authority: str, verbs: dict[str, str]) -> str:
    """The statement of an event as one line of JSON, stored ``stored_delay_ms`` after its timestamp."""
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
