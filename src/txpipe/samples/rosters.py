"""Synthetic deliveries: realistic, seeded and deterministic, with a chosen share of defects.

Four sources, each in the shape its programme office really exports:

- ``nso``  NATO School course rosters: XLSX with a banner and CSV (';', BOM, CRLF, day-first
  dates), own column names mapped by ``data/sources/nso.toml``;
- ``jftc`` training-centre events: JSON arrays with the canonical columns;
- ``mtep`` exercise contingents (headcount > 1): JSON Lines mapped by ``data/sources/mtep.toml``;
- ``jadl`` e-learning completions: plain comma CSV with the canonical columns.

The content looks like the world, not like our reference: about one activity code in ten is
NATO-style but not in the catalogue (the catalogue is never complete), iteration ids come in the
shapes offices really write ("N5-35-B-24", "N5-35/B/2024", "B-24"), nations are written as public
lists write them (ISO and UN names with their "(the)" forms, World Bank's "Korea, Rep.", CLDR's
English and French names, alpha-2 and alpha-3 codes), and every file mixes defects.

Every planted defect and warning is recorded (file, source_row, defect, the rule expected to catch
it, and its severity) in ``<out>/.txpipe-generate.json``, a hidden file that discovery does not pick
up. Synthetic people only: names and e-mails are made up and are dropped at ingest anyway.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from txpipe.reference import Reference

MANIFEST = ".txpipe-generate.json"
SOURCES = ("nso", "jftc", "mtep", "jadl")
SHARE = {"nso": 0.4, "jftc": 0.2, "mtep": 0.1, "jadl": 0.3}

# Defect -> the rule that must catch it (None: collapsed as an exact duplicate).
DEFECTS: dict[str, str | None] = {
    "unknown_nation": "nation_unknown",
    "end_before_start": "end_before_start",
    "unknown_status": "status_invalid",
    "missing_participant_ref": "participant_ref_missing",
    "exact_duplicate": None,
    "conflicting_duplicate": "conflicting_duplicate",
    "broken_json_line": "json_line_malformed",
    "invalid_date": "start_date_invalid",
    "score_out_of_range": "score_invalid",
    "malformed_activity_code": "activity_code_malformed",
}
# Content that is kept but warned about -> its warning rule.
WARNINGS: dict[str, str] = {
    "activity_not_in_catalogue": "activity_code_not_in_catalogue",
    "iteration_other_shape": "iteration_id_malformed",
}
NOT_IN_CATALOGUE_SHARE = 0.10
OTHER_ITERATION_SHAPE_SHARE = 0.15
# Well-formed NATO-style activity codes that the catalogue does not hold, per programme.
UNCATALOGUED = {
    "education": ("N2-106", "M6-140", "N7-58", "P3-12", "M4-201"),
    "training": ("T3-77", "T7-104", "PTC-21", "MTT-8"),
    "exercise": ("E4-480", "E5-512", "STDF-25"),
    "online": ("ADL-301", "ADL-412", "ADL-099"),
}

NSO_HEADERS = [
    "Record",
    "Course",
    "Course Title",
    "Class",
    "Start",
    "End",
    "Country",
    "Student No.",
    "Student Name",
    "Email",
    "Gender",
    "Rank",
    "Result",
    "Score",
    "Remarks",
]
CANONICAL_HEADERS = [
    "source_record_id",
    "programme",
    "activity_code",
    "activity_title",
    "iteration_id",
    "provider",
    "start_date",
    "end_date",
    "delivery_mode",
    "nation",
    "participant_ref",
    "headcount",
    "sex",
    "rank",
    "role",
    "status",
    "score",
]
MTEP_KEYS = [
    "contingent_id",
    "exercise",
    "exercise_name",
    "serial",
    "provider",
    "start_date",
    "end_date",
    "nation",
    "participant_ref",
    "persons",
    "sex",
    "rank",
    "capacity",
    "status",
]

PARTNER_WEIGHT = {"PFP": 5, "MD": 3, "ICI": 2, "PAG": 2, "IO": 1, "ALLY": 2}
STATUS_WEIGHTS = {
    "passed": 62,
    "completed": 8,
    "failed": 5,
    "attended": 4,
    "no_show": 6,
    "cancelled": 5,
    "withdrawn": 3,
    "registered": 4,
    "nominated": 3,
}
NSO_RESULT = {"passed": "Graduated", "failed": "Not graduated", "no_show": "Did not attend", "registered": "Enrolled"}
RANK_POOL = [f"OF-{i}" for i in range(1, 7)] * 3 + [f"OR-{i}" for i in range(4, 10)] + ["WO-2", "CIV", "CIV"]
# Spellings no resolver may place: fiction, an aggregate of the World Bank, a US state, an ambiguous name.
UNKNOWN_NATIONS = ("Narnia", "Atlantis", "ZZZ", "Freedonia", "Euro area", "Georgia (US state)", "Congo")
UNKNOWN_STATUSES = ("pending review", "postponed", "in progress")


@dataclass
class Planted:
    source: str
    file: str
    source_row: int
    defect: str
    rule: str | None
    severity: str = "critical"  # critical: quarantined; warning: stored with the warning


@dataclass
class Manifest:
    seed: int
    rows: int
    defect_rate: float
    files: dict[str, int] = field(default_factory=dict)  # "source/file" -> rows written
    planted: list[Planted] = field(default_factory=list)


class _People:
    """A stable pool of synthetic participants per source, so people recur across courses."""

    def __init__(self, rng: random.Random, source: str, nations: list[str], weights: list[float], size: int):
        self.rng = rng
        self.pool = []
        for i in range(size):
            nation = rng.choices(nations, weights)[0]
            sex = rng.choices("FMXU", (25, 70, 1, 4))[0]
            self.pool.append((f"{source.upper()}-{i:07d}", nation, sex, rng.choice(RANK_POOL)))

    def pick(self):
        return self.rng.choice(self.pool)


class Generator:
    def __init__(self, reference: Reference, seed: int, defect_rate: float):
        self.reference = reference
        self.seed = seed
        self.defect_rate = defect_rate
        # Suspended partners (Russia, Belarus, Afghanistan) no longer send participants.
        nations = reference.nations.drop_duplicates("code", keep="last")
        nations = nations[nations["status"] != "suspended"]
        self.nations = list(nations["code"])
        self.weights = [PARTNER_WEIGHT[f] for f in nations["framework"]]
        self.spellings = {code: _spellings(reference, code) for code in self.nations}
        self.activities = reference.activities.set_index("activity_code").to_dict("index")
        self.iterations = reference.iterations.to_dict("records")

    # -- records -------------------------------------------------------------------------
    def _iteration(self, rng: random.Random, programme: str, providers: tuple[str, ...] | None = None):
        while True:
            it = rng.choice(self.iterations)
            activity = self.activities[it["activity_code"]]
            if activity["programme"] == programme and (providers is None or activity["provider"] in providers):
                return it, activity

    def _status(self, rng: random.Random) -> str:
        return rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]

    def records(self, source: str, rng: random.Random, count: int) -> Iterator[dict]:
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

    def _contingent(self, rng: random.Random, rid: str, people: _People) -> dict:
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

    def dress(self, rng: random.Random, record: dict) -> tuple[dict, list[str]]:
        """Write a clean record the way offices do: the nation as some public list spells it and, now
        and then, the iteration id in another shape. Returns the record and the warnings it will carry."""
        out = dict(record)
        out["nation"] = rng.choice(self.spellings[record["nation"]])
        warnings = []
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
            warnings.append("iteration_other_shape")
        return out, warnings

    # -- defects -------------------------------------------------------------------------
    def plant(self, rng: random.Random, record: dict, source: str, jsonl: bool) -> tuple[str | None, list[dict]]:
        """Maybe damage a record. Returns (defect, rows to write in its place)."""
        if rng.random() >= self.defect_rate:
            return None, [record]
        choices = [
            "unknown_nation",
            "end_before_start",
            "unknown_status",
            "exact_duplicate",
            "conflicting_duplicate",
            "invalid_date",
            "score_out_of_range",
            "malformed_activity_code",
        ]
        if record["headcount"] == "1":
            choices.append("missing_participant_ref")
        if jsonl:
            choices.append("broken_json_line")
        if source == "mtep":  # exercise returns carry no score
            choices.remove("score_out_of_range")
        defect = rng.choice(choices)
        bad = dict(record)
        if defect == "unknown_nation":
            bad["nation"] = rng.choice(UNKNOWN_NATIONS)
        elif defect == "end_before_start":
            start = dt.date.fromisoformat(record["start_date"])
            bad["end_date"] = (start - dt.timedelta(days=rng.randint(1, 30))).isoformat()
        elif defect == "unknown_status":
            bad["status"] = rng.choice(UNKNOWN_STATUSES)
        elif defect == "missing_participant_ref":
            bad["participant_ref"] = None
        elif defect == "exact_duplicate":
            return defect, [record, dict(record)]
        elif defect == "conflicting_duplicate":
            other = dict(record)
            other["status"] = "withdrawn" if record["status"] != "withdrawn" else "cancelled"
            other["score"] = None
            return defect, [record, other]
        elif defect == "broken_json_line":
            bad["__broken__"] = True
        elif defect == "invalid_date":
            bad["start_date"] = rng.choice(["2024-02-30", "2023-13-01", "TBC"])
            bad["end_date"] = record["end_date"]
        elif defect == "score_out_of_range":
            bad["score"] = rng.choice(["101", "-5", "n/a"])
        elif defect == "malformed_activity_code":
            bad["activity_code"] = rng.choice(["N5 35", "course 12", "N5_35"])
        return defect, [bad]


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


# -- writers -----------------------------------------------------------------------------
def _nso_row(g: Generator, rec: dict, rng: random.Random, excel: bool) -> list:
    def dmy(iso: str) -> str | dt.date:
        try:
            day = dt.date.fromisoformat(iso)
        except ValueError:
            return iso
        return day if excel else day.strftime("%d.%m.%Y")

    nation = rec["nation"]
    number = rec["participant_ref"]
    return [
        rec["source_record_id"],
        rec["activity_code"],
        rec["activity_title"],
        rec["iteration_id"],
        dmy(rec["start_date"]),
        dmy(rec["end_date"]),
        nation,
        number,
        f"Student {number[-5:]}" if number else None,
        f"student.{number[-5:]}@example.mil" if number else None,
        {"F": "W", "M": "Male"}.get(rec["sex"], rec["sex"]),
        rec["rank"],
        NSO_RESULT.get(rec["status"], rec["status"]),
        _number(rec["score"]) if excel else rec["score"],
        rng.choice([None, None, None, "late arrival", "needs visa letter;\nsee file"]),
    ]


def _number(text: str | None) -> float | str | None:
    """A score as a spreadsheet or JSON number where it is one (defects stay text)."""
    try:
        return float(text) if text else None
    except ValueError:
        return text


def _jftc_record(rec: dict) -> dict:
    out = {k: rec[k] for k in CANONICAL_HEADERS}
    out["headcount"] = int(rec["headcount"])
    out["score"] = _number(rec["score"])
    return out


def _mtep_record(rec: dict) -> dict:
    return {
        "contingent_id": rec["source_record_id"],
        "exercise": rec["activity_code"],
        "exercise_name": rec["activity_title"],
        "serial": rec["iteration_id"],
        "provider": rec["provider"],
        "start_date": rec["start_date"],
        "end_date": rec["end_date"],
        "nation": rec["nation"],
        "participant_ref": rec["participant_ref"],
        "persons": int(rec["headcount"]),
        "sex": rec["sex"],
        "rank": rec["rank"],
        "capacity": {"training_audience": "TA", "observer": "OBS"}.get(rec["role"], rec["role"]),
        "status": rec["status"],
    }


class _Writer:
    """Writes one delivery file row by row and reports each row's source_row."""

    def __init__(self, path: Path, fmt: str, source: str, g: Generator, rng: random.Random):
        self.path, self.fmt, self.source, self.g, self.rng = path, fmt, source, g, rng
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        if fmt == "xlsx":
            from openpyxl import Workbook

            self.book = Workbook(write_only=True)
            self.sheet = self.book.create_sheet("Roster")
            self.sheet.append(["NATO School Oberammergau - Student Administration"])
            self.sheet.append([f"Course roster export, generated {dt.date(2026, 1, 15).isoformat()}"])
            self.sheet.append([])
            self.sheet.append(NSO_HEADERS)
            self.next_row = 5
        elif fmt == "nso_csv":
            self.handle = open(path, "w", encoding="utf-8-sig", newline="")
            self.csv = csv.writer(self.handle, delimiter=";", lineterminator="\r\n")
            self.csv.writerow(NSO_HEADERS)
            self.next_row = 2
        elif fmt == "csv":
            self.handle = open(path, "w", encoding="utf-8", newline="")
            self.csv = csv.writer(self.handle, lineterminator="\n")
            self.csv.writerow(CANONICAL_HEADERS)
            self.next_row = 2
        elif fmt == "json":
            self.items: list[dict] = []
            self.next_row = 1
        elif fmt == "jsonl":
            self.handle = open(path, "w", encoding="utf-8", newline="\n")
            self.next_row = 1

    def write(self, rec: dict) -> int:
        """Write one record; return its source_row."""
        row = self.next_row
        self.rows += 1
        if self.fmt == "xlsx":
            self.sheet.append(_nso_row(self.g, rec, self.rng, excel=True))
            self.next_row += 1
            if self.rows % 97 == 0:  # exports hold the odd blank row; it must be skipped
                self.sheet.append([])
                self.next_row += 1
        elif self.fmt == "nso_csv":
            self.csv.writerow(_nso_row(self.g, rec, self.rng, excel=False))
            self.next_row += 1
        elif self.fmt == "csv":
            self.csv.writerow([rec[k] for k in CANONICAL_HEADERS])
            self.next_row += 1
        elif self.fmt == "json":
            self.items.append(_jftc_record(rec))
            self.next_row += 1
        elif self.fmt == "jsonl":
            text = json.dumps(_mtep_record(rec), ensure_ascii=False)
            if rec.get("__broken__"):
                text = text[: len(text) // 2]  # a line cut off mid-object
            self.handle.write(text + "\n")
            self.next_row += 1
        return row

    def close(self) -> None:
        if self.fmt == "xlsx":
            self.book.save(self.path)
            _freeze_xlsx(self.path)
        elif self.fmt == "json":
            self.path.write_text(json.dumps(self.items, indent=1, ensure_ascii=False), encoding="utf-8")
        else:
            self.handle.close()


def _freeze_xlsx(path: Path) -> None:
    """Make an XLSX byte-for-byte reproducible: fixed document dates and zip entry times."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    stamp = b"2026-01-15T00:00:00Z"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            target.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 15, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)


FILE_PLAN = {  # source -> formats of its files, cycled
    "nso": ("xlsx", "nso_csv"),
    "jftc": ("json",),
    "mtep": ("jsonl",),
    "jadl": ("csv",),
}
SUFFIX = {"xlsx": ".xlsx", "nso_csv": ".csv", "csv": ".csv", "json": ".json", "jsonl": ".jsonl"}


def generate(
    out: Path,
    reference: Reference,
    rows: int,
    seed: int = 2026,
    defect_rate: float = 0.0,
    sources: tuple[str, ...] = SOURCES,
    files_per_source: int = 2,
) -> Manifest:
    """Write deliveries under ``out/<source>/`` and the manifest of planted defects."""
    g = Generator(reference, seed, defect_rate)
    manifest = Manifest(seed=seed, rows=rows, defect_rate=defect_rate)
    share_total = sum(SHARE[s] for s in sources)
    for source in sources:
        rng = random.Random(f"{seed}:{source}")
        count = max(1, round(rows * SHARE[source] / share_total))
        formats = FILE_PLAN[source]
        n_files = max(1, min(files_per_source, count))
        records = g.records(source, rng, count)
        for index in range(n_files):
            fmt = formats[index % len(formats)]
            name = f"{source}_{index + 1:02d}{SUFFIX[fmt]}"
            writer = _Writer(out / source / name, fmt, source, g, rng)
            share = count // n_files + (1 if index < count % n_files else 0)
            for _, clean in zip(range(share), records):
                record, warnings = g.dress(rng, clean)
                defect, rows_out = g.plant(rng, record, source, jsonl=fmt == "jsonl")
                at = [writer.write(row) for row in rows_out]
                if defect in (None, "exact_duplicate"):  # the row (or its first copy) is stored with its warnings
                    for warning in warnings:
                        manifest.planted.append(Planted(source, name, at[0], warning, WARNINGS[warning], "warning"))
                if defect == "exact_duplicate":
                    at = at[1:]  # the second copy is the one that collapses
                for source_row in at if defect else ():
                    manifest.planted.append(Planted(source, name, source_row, defect, DEFECTS[defect]))
            writer.close()
            manifest.files[f"{source}/{name}"] = writer.rows
    manifest.planted.sort(key=lambda p: (p.source, p.file, p.source_row))
    (out / MANIFEST).write_text(json.dumps({**asdict(manifest)}, indent=1), encoding="utf-8")
    return manifest


def load_manifest(out: Path) -> Manifest:
    data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    planted = [Planted(**p) for p in data.pop("planted")]
    return Manifest(**data, planted=planted)
