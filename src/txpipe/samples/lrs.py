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

import heapq
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from txpipe.reference import Reference
from txpipe.samples.lrs_courses import AU_TITLES, FRENCH_TITLES, course_iri, lrs_source_config, online_courses
from txpipe.samples.lrs_defects import RULES, damage
from txpipe.samples.lrs_enrolments import Enrolment
from txpipe.samples.lrs_learners import ACCOUNT_HOMES, FIRST, LAST, LOCAL_TIME_SHARE, NATION_OFFSET, Learners
from txpipe.samples.lrs_statements import Event, Fragments, line
from txpipe.samples.lrs_vocab import (
    ADL,
    ADMIN,
    AUTHORITY,
    CAT_CMI5,
    CAT_MOVEON,
    CMI5,
    COURSE_BASE,
    DAY_MS,
    EXT_PROGRESS,
    EXT_SESSION,
    INTERACTIONS,
    LMS_HOME,
    LRS_MANIFEST,
    LRS_SOURCE,
    MASTERY,
    NATION_EXTENSION,
    PLANS,
    PROVIDER,
    SATISFIED_SHARE,
    SCALED_ONLY_SHARE,
    SECOND_CHANCE,
    SPAN_MS,
    T0_MS,
    TYPE_AU,
    TYPE_COURSE,
    TYPE_PAGE,
    TYPE_QUESTION,
    TYPE_VIDEO,
    VERBS,
    VOID_SHARE,
    VOIDED,
)

# The names this module has always offered; they now live in the lrs_* modules beside it.
__all__ = [
    "ACCOUNT_HOMES",
    "ADL",
    "ADMIN",
    "AUTHORITY",
    "AU_TITLES",
    "CAT_CMI5",
    "CAT_MOVEON",
    "CMI5",
    "COURSE_BASE",
    "DAY_MS",
    "EXT_PROGRESS",
    "EXT_SESSION",
    "FIRST",
    "FRENCH_TITLES",
    "INTERACTIONS",
    "LAST",
    "LMS_HOME",
    "LOCAL_TIME_SHARE",
    "LRS_MANIFEST",
    "LRS_SOURCE",
    "MASTERY",
    "NATION_EXTENSION",
    "NATION_OFFSET",
    "PLANS",
    "PROVIDER",
    "RULES",
    "SATISFIED_SHARE",
    "SCALED_ONLY_SHARE",
    "SECOND_CHANCE",
    "SPAN_MS",
    "T0_MS",
    "TYPE_AU",
    "TYPE_COURSE",
    "TYPE_PAGE",
    "TYPE_QUESTION",
    "TYPE_VIDEO",
    "VERBS",
    "VOIDED",
    "VOID_SHARE",
    "Event",
    "LrsManifest",
    "course_iri",
    "lrs_source_config",
    "online_courses",
    "write_lrs_export",
]


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    g = Fragments(reference, seed, manifest.learner_pool)
    stream = _Stream(g, random.Random(f"{seed}:lrs"), statements)
    defects = random.Random(f"{seed}:lrs:defects")
    stored = random.Random(f"{seed}:lrs:stored")
    buffer: list[str] = []
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        written = 0
        while written < statements:
            event, enrolment = stream.pop(written)
            _count(manifest, g.learners, event, enrolment)
            text = line(event, 150 + int(stored.random() * 3850), g.authority, g.verbs)
            written += 1
            if defect_rate and not event[8] and defects.random() < defect_rate:  # event[8]: protected
                rule = defects.choice(RULES)
                text = damage(text, rule, defects)
                manifest.planted.append((written, rule))
            buffer.append(text)
            if len(buffer) >= 2048:
                _flush(handle, buffer)
            stream.resume(enrolment)
        _flush(handle, buffer)
    manifest.statements = written
    manifest.learners = sum(g.learners.seen)
    return manifest


class _Stream:
    """The enrolments in progress, merged by timestamp: the statement events of the export in file order.

    A few enrolments run at once (more for a longer export); each new one starts where the file has
    got to in the export's time span, never before the last statement written."""

    def __init__(self, g: Fragments, rng: random.Random, statements: int):
        self.g, self.rng, self.statements = g, rng, statements
        self.active = max(3, min(64, statements // 250))  # enrolments in progress at once
        self.heap: list[tuple[int, int, Event, Enrolment]] = []
        self.serial = 0  # breaks ties between events of the same millisecond
        self.last_ts = T0_MS

    def pop(self, written: int) -> tuple[Event, Enrolment]:
        """The next event in timestamp order and its enrolment, ``written`` statements into the file."""
        while len(self.heap) < self.active:
            self._start(written)
        ts, _, event, enrolment = heapq.heappop(self.heap)
        self.last_ts = ts
        return event, enrolment

    def resume(self, enrolment: Enrolment) -> None:
        """Queue the next event of an enrolment whose event was just written, if it has one."""
        following = next(enrolment.events, None)
        if following is not None:
            heapq.heappush(self.heap, (following[0], self.serial, following, enrolment))
            self.serial += 1

    def _start(self, written: int) -> None:
        clock = max(T0_MS + SPAN_MS * written // max(self.statements, 1), self.last_ts)
        enrolment = Enrolment(self.g, self.rng, clock + int(self.rng.uniform(0, 2) * DAY_MS))
        first = next(enrolment.events, None)
        if first is not None:
            self.serial += 1
            heapq.heappush(self.heap, (first[0], self.serial, first, enrolment))


def _count(manifest: LrsManifest, learners: Learners, event: Event, enrolment: Enrolment) -> None:
    """Count a statement about to be written: its enrolment and learner, a new registration, a voiding."""
    if not enrolment.written:
        enrolment.written = True
        manifest.enrolments += 1
        learners.seen[enrolment.learner] = 1
    if event[9]:  # the first statement of its registration
        manifest.registrations += 1
    if event[4] == "voided":
        manifest.voiding += 1


def _flush(handle: TextIO, buffer: list[str]) -> None:
    """Write the buffered lines, each ended by a newline, and empty the buffer."""
    if buffer:
        buffer.append("")
        handle.write("\n".join(buffer))
        buffer.clear()
