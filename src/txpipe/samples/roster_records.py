"""Roster records: clean canonical rows drawn from the reference, then dressed the way offices write them.

The content looks like the world, not like our reference: about one activity code in ten is
NATO-style but not in the catalogue, iteration ids come in the shapes offices really write, and
nations are written as public lists write them (see :func:`_spellings`).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from typing import Any

from txpipe.reference import Reference
from txpipe.samples.roster_defects import plant
from txpipe.samples.roster_vocab import (
    NOT_IN_CATALOGUE_SHARE,
    OTHER_ITERATION_SHAPE_SHARE,
    PARTNER_WEIGHT,
    RANK_POOL,
    STATUS_WEIGHTS,
    UNCATALOGUED,
    Record,
)

# A participant: (participant_ref, nation code, sex, rank).
Person = tuple[str, str, str, str]


class _People:
    """A stable pool of synthetic participants per source, so people recur across courses."""

    def __init__(self, rng: random.Random, source: str, nations: list[str], weights: Sequence[float], size: int):
        self.rng = rng
        self.pool: list[Person] = []
        for i in range(size):
            nation = rng.choices(nations, weights)[0]
            sex = rng.choices("FMXU", (25, 70, 1, 4))[0]
            self.pool.append((f"{source.upper()}-{i:07d}", nation, sex, rng.choice(RANK_POOL)))

    def pick(self) -> Person:
        return self.rng.choice(self.pool)


class Generator:
    """Draws the records of each source from the reference and plants defects in them."""

    def __init__(self, reference: Reference, seed: int, defect_rate: float):
        self.reference = reference
        self.seed = seed
        self.defect_rate = defect_rate
        # Suspended partners (Russia, Belarus, Afghanistan) no longer send participants.
        nations = reference.nations.drop_duplicates("code", keep="last")
        nations = nations[nations["status"] != "suspended"]
        self.nations: list[str] = list(nations["code"])
        self.weights: list[int] = [PARTNER_WEIGHT[f] for f in nations["framework"]]
        self.spellings = {code: _spellings(reference, code) for code in self.nations}
        self.activities: dict[str, dict[str, Any]] = reference.activities.set_index("activity_code").to_dict("index")
        self.iterations: list[dict[str, Any]] = reference.iterations.to_dict("records")

    # -- records -------------------------------------------------------------------------
    def _iteration(
        self, rng: random.Random, programme: str, providers: tuple[str, ...] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A catalogue iteration of ``programme`` (by one of ``providers``) and its activity."""
        while True:
            it = rng.choice(self.iterations)
            activity = self.activities[it["activity_code"]]
            if activity["programme"] == programme and (providers is None or activity["provider"] in providers):
                return it, activity

    def _status(self, rng: random.Random) -> str:
        return rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]

    def records(self, source: str, rng: random.Random, count: int) -> Iterator[Record]:
        """Clean canonical records for one source, as plain text values."""
        people = _People(rng, source, self.nations, self.weights, max(50, count // 3))
        for n in range(count):
            rid = f"{source.upper()}-{n + 1:08d}"
            if source == "mtep":
                yield self._contingent(rng, rid, people)
                continue
            ref, nation, sex, rank = people.pick()
            status = self._status(rng)
            if source == "jadl":
                code = rng.choice([c for c, a in self.activities.items() if a["delivery_mode"] == "online"])
                activity = self.activities[code]
                day = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(5 * 365))
                start = end = day.isoformat()
                iteration, status = None, rng.choice(["completed", "completed", "passed", "registered"])
            else:
                programme = "education" if source == "nso" else "training"
                providers = ("NSO", "NDC") if source == "nso" else None
                it, activity = self._iteration(rng, programme, providers)
                code, iteration, start, end = it["activity_code"], it["iteration_id"], it["start_date"], it["end_date"]
            score = f"{rng.uniform(55, 99):.1f}" if status in ("passed", "failed") else None
            if status == "failed" and score:
                score = f"{rng.uniform(20, 59):.1f}"
            yield {
                "source_record_id": rid,
                "programme": activity["programme"],
                "activity_code": code,
                "activity_title": activity["title"],
                "iteration_id": iteration,
                "provider": activity["provider"],
                "start_date": start,
                "end_date": end,
                "delivery_mode": activity["delivery_mode"],
                "nation": nation,
                "participant_ref": ref,
                "headcount": "1",
                "sex": sex,
                "rank": rank,
                "role": "student",
                "status": status,
                "score": score,
            }

    def _contingent(self, rng: random.Random, rid: str, people: _People) -> Record:
        """An MTEP record: a national contingent, or now and then one person in a staff role."""
        it, activity = self._iteration(rng, "exercise")
        individual = rng.random() < 0.2
        ref, nation, sex, rank = people.pick()
        return {
            "source_record_id": rid,
            "programme": "exercise",
            "activity_code": it["activity_code"],
            "activity_title": activity["title"],
            "iteration_id": it["iteration_id"],
            "provider": activity["provider"],
            "start_date": it["start_date"],
            "end_date": it["end_date"],
            "delivery_mode": "field",
            "nation": nation,
            "participant_ref": ref if individual else None,
            "headcount": "1" if individual else str(rng.randint(4, 160)),
            "sex": sex if individual else "U",
            "rank": rank if individual else None,
            "role": rng.choice(["instructor", "evaluator", "staff"])
            if individual
            else rng.choices(["training_audience", "observer"], (80, 20))[0],
            "status": rng.choices(["attended", "cancelled", "registered"], (90, 6, 4))[0],
            "score": None,
        }

    def dress(self, rng: random.Random, record: Record) -> tuple[Record, list[str]]:
        """Write a clean record the way offices do: the nation as some public list spells it and, now
        and then, the iteration id in another shape (stored under its canonical id, with no warning: README
        "Iteration ids"). Returns the record and the warnings it will carry."""
        out = dict(record)
        out["nation"] = rng.choice(self.spellings[record["nation"]])
        warnings: list[str] = []
        if rng.random() < NOT_IN_CATALOGUE_SHARE:
            kind = "online" if record["delivery_mode"] == "online" else record["programme"]
            code = out["activity_code"] = rng.choice(UNCATALOGUED[kind])
            out["activity_title"] = f"{code} partner course (not yet in the catalogue)"
            if out["iteration_id"]:
                out["iteration_id"] = f"{code}-A-{record['start_date'][2:4]}"
            warnings.append("activity_not_in_catalogue")
        iteration = out["iteration_id"]
        if iteration and rng.random() < OTHER_ITERATION_SHAPE_SHARE:
            course, letter, year = iteration.rsplit("-", 2)
            out["iteration_id"] = rng.choice(
                [f"{course}/{letter}/20{year}", f"{letter}-{year}", f"{course} {letter} 20{year}", f"20{year}-{letter}"]
            )
        return out, warnings

    # -- defects -------------------------------------------------------------------------
    def plant(self, rng: random.Random, record: Record, source: str, jsonl: bool) -> tuple[str | None, list[Record]]:
        """Maybe damage a record. Returns (defect, rows to write in its place)."""
        return plant(rng, record, source, jsonl, self.defect_rate)


def _spellings(reference: Reference, code: str) -> list[str]:
    """How public lists write one reference nation (each checked to resolve to that very code)."""
    import pycountry
    from babel import Locale

    name = reference.nations.loc[reference.nations["code"] == code, "name"].iloc[-1]
    found = [code, name]
    country = pycountry.countries.get(alpha_3=code)
    if country is not None:
        found += [
            country.alpha_2,
            getattr(country, "official_name", None),
            Locale("fr").territories.get(country.alpha_2),
            Locale("en").territories.get(country.alpha_2),
        ]
    for form in ("Republic of ", "Arab Republic of ", "Kingdom of "):
        if (official := getattr(country, "official_name", "") or "").startswith(form):  # World Bank: "Korea, Rep."
            found.append(f"{official[len(form) :]}, {form.replace('Republic', 'Rep.').replace(' of ', '').strip()}")
    if name.startswith(("Republic", "Russian", "United", "Netherlands")):  # UN terminology: "Netherlands (the)"
        found.append(f"{name} (the)")
    return sorted({s for s in found if s and reference.resolve_nation(s) == code})
