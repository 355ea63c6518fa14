"""Independent oracle for the black-box tests, written from README.md and docs/CONTRACT.md only.

Nothing here imports txpipe: every expectation is computed in plain Python from the delivered
files, the source configs (TOML), and data/reference/*.csv read as CSV.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import hashlib
import hmac
import json
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "data" / "reference"

ATTENDED = {"attended", "completed", "passed", "failed"}
PARTNER_FRAMEWORKS = ("PFP", "MD", "ICI", "PAG", "IO")


# ---------------------------------------------------------------- reference data (nations.csv)


@dataclass(frozen=True)
class NationPeriod:
    code: str
    name: str
    framework: str
    valid_from: dt.date | None  # None: "since before any data"
    valid_to: dt.date | None  # None: "still holds"
    status: str
    status_from: dt.date | None  # suspended with None: suspended throughout


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text.strip() else None


def load_nations(path: Path = REFERENCE / "nations.csv") -> list[NationPeriod]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            NationPeriod(
                r["code"],
                r["name"],
                r["framework"],
                _date(r["valid_from"]),
                _date(r["valid_to"]),
                r["status"],
                _date(r["status_from"]),
            )
            for r in csv.DictReader(fh)
        ]


def load_aliases(path: Path = REFERENCE / "nation_aliases.csv") -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {_fold(r["alias"]): r["code"] for r in csv.DictReader(fh)}


def _fold(text: str) -> str:
    import unicodedata

    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^0-9a-z]+", " ", text).strip()


def _holds(p: NationPeriod, day: dt.date) -> bool:
    return (p.valid_from is None or p.valid_from <= day) and (p.valid_to is None or day <= p.valid_to)


def framework_at(nations: list[NationPeriod], code: str, day: dt.date) -> str | None:
    """The framework `code` held on `day` (CONTRACT: "framework (held at start_date)")."""
    held = [p.framework for p in nations if p.code == code and _holds(p, day)]
    assert len(held) <= 1, f"periods of {code} overlap on {day}"
    return held[0] if held else None


def _suspended(p: NationPeriod, day: dt.date) -> bool:
    return p.status == "suspended" and (p.status_from is None or day >= p.status_from)


def active_partners(nations: list[NationPeriod], year: int, framework: str) -> set[str]:
    """CONTRACT: nations that held that partner framework on at least one day of the year and
    were not suspended on that day."""
    out = set()
    jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
    for p in nations:
        if p.framework != framework:
            continue
        first = max(jan1, p.valid_from or jan1)  # first day of the year the period holds
        last = min(dec31, p.valid_to or dec31)
        if first > last:
            continue
        if p.status == "suspended" and (p.status_from is None or p.status_from <= first):
            continue  # a suspended nation is active only on days before status_from
        out.add(p.code)
    return out


# ---------------------------------------------------------------- the period grammar (README)

_PERIOD = re.compile(r"^(\d{4})(?:-(?:(\d{2})|[Ww](\d{2})|[Qq](\d)|[Hh](\d)))?$")


def period_dates(value: str) -> tuple[dt.date, dt.date] | None:
    m = _PERIOD.match(value.strip(" \t")) if value.isascii() else None
    if not m:
        return None
    year = int(m[1])
    if not 1900 <= year <= 2099:
        return None
    try:
        if m[2]:
            month = int(m[2])
            start = dt.date(year, month, 1)
            end = dt.date(year, month, calendar.monthrange(year, month)[1])
        elif m[3]:
            start = dt.date.fromisocalendar(year, int(m[3]), 1)
            end = start + dt.timedelta(days=6)
        elif m[4]:
            q = int(m[4])
            if not 1 <= q <= 4:
                return None
            start = dt.date(year, 3 * q - 2, 1)
            end = dt.date(year, 3 * q, calendar.monthrange(year, 3 * q)[1])
        elif m[5]:
            h = int(m[5])
            if h not in (1, 2):
                return None
            start, end = (
                (dt.date(year, 1, 1), dt.date(year, 6, 30)) if h == 1 else (dt.date(year, 7, 1), dt.date(year, 12, 31))
            )
        else:
            start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:
        return None
    if start < dt.date(1900, 1, 1) or end > dt.date(2099, 12, 31):
        return None
    return start, end


# ---------------------------------------------------------------- a roster source (CSV, README rules)

_HEADCOUNT = re.compile(r"^[1-9][0-9]{0,5}(\.0)?$")
_ACTIVITY = re.compile(r"^[A-Z]{1,4}[0-9]{0,2}-[A-Z0-9]{1,6}$")


@dataclass
class RowVerdict:
    source_row: int
    values: dict[str, str | None]
    reasons: set[str] = field(default_factory=set)
    start: dt.date | None = None
    end: dt.date | None = None
    nation: str | None = None
    headcount: int | None = None

    @property
    def stored(self) -> bool:
        return not self.reasons


@dataclass
class FileVerdict:
    rows: list[RowVerdict]
    duplicates: int

    @property
    def read(self) -> int:
        return len(self.rows) + self.duplicates

    @property
    def stored(self) -> list[RowVerdict]:
        return [r for r in self.rows if r.stored]

    @property
    def quarantined(self) -> list[RowVerdict]:
        return [r for r in self.rows if not r.stored]


def resolve_nation(
    value: str, nations: list[NationPeriod], aliases: dict[str, str], config_aliases: dict[str, str]
) -> str | None:
    """Only the README's sure cases: a config alias, a reference code, a reference name, an alias
    of nation_aliases.csv. (Names only pycountry/CLDR know are not modelled: tests using them
    compare against the file's own ISO3 column instead.)"""
    for k, v in config_aliases.items():
        if k.casefold() == value.strip().casefold():
            value = v
    codes = {p.code for p in nations}
    if value.strip().upper() in codes:
        return value.strip().upper()
    by_name = {_fold(p.name): p.code for p in nations}
    return by_name.get(_fold(value)) or aliases.get(_fold(value))


def judge_roster(
    path: Path, config: dict, nations: list[NationPeriod], aliases: dict[str, str], nation_of=None
) -> FileVerdict:
    """nation_of(canonical values) -> code or None replaces the name lookup where the file gives
    its own answer (the World Bank file's ISO3 column for its country names)."""
    cols = {k.strip().casefold(): v for k, v in config.get("columns", {}).items()}
    period_col = config.get("dates", {}).get("period", "").strip().casefold()
    defaults = config.get("defaults", {})
    nation_aliases = config.get("aliases", {}).get("nation", {})
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().casefold() for h in next(reader)]
        records = [(n + 2, rec) for n, rec in enumerate(reader) if any(c.strip() for c in rec)]
    verdicts: list[RowVerdict] = []
    seen: dict[tuple, int] = {}
    duplicates = 0
    for source_row, rec in records:
        delivered = dict(zip(header, rec, strict=False))
        canon: dict[str, str | None] = {}
        for h, v in delivered.items():
            if h in cols:
                canon[cols[h]] = v.strip() or None
        for k, v in defaults.items():
            if not canon.get(k):
                canon[k] = str(v)
        period = delivered.get(period_col, "").strip() if period_col else None
        key = (tuple(sorted(canon.items())), period)
        if key in seen:
            duplicates += 1
            continue
        seen[key] = source_row
        v = RowVerdict(source_row, canon)
        if not canon.get("source_record_id"):
            v.reasons.add("source_record_id_missing")
        if period_col:
            if not period:
                v.reasons |= {"start_date_missing", "end_date_missing"}
            elif (pd := period_dates(period)) is None:
                v.reasons.add("period_invalid")
            else:
                v.start, v.end = pd
        code = (canon.get("activity_code") or "").upper()
        if not code:
            v.reasons.add("activity_code_missing")
        elif not _ACTIVITY.match(code):
            v.reasons.add("activity_code_malformed")
        if not canon.get("nation"):
            v.reasons.add("nation_missing")
        else:
            v.nation = (
                nation_of(canon) if nation_of else resolve_nation(canon["nation"], nations, aliases, nation_aliases)
            )
            if v.nation is None:
                v.reasons.add("nation_unknown")
        hc = canon.get("headcount") or "1"
        if _HEADCOUNT.match(hc):
            v.headcount = int(hc.removesuffix(".0"))
        else:
            v.reasons.add("headcount_invalid")
        if v.headcount == 1 and not canon.get("participant_ref"):
            v.reasons.add("participant_ref_missing")
        verdicts.append(v)
    by_id: dict[str | None, list[RowVerdict]] = defaultdict(list)
    for v in verdicts:
        by_id[v.values.get("source_record_id")].append(v)
    for rid, group in by_id.items():
        if rid and len(group) > 1:  # exact copies were collapsed above, so these all differ
            for v in group:
                v.reasons.add("conflicting_duplicate")
    return FileVerdict(verdicts, duplicates)


# ---------------------------------------------------------------- an xAPI source (README rules)

VERB_STATUS = {
    "passed": "passed",
    "failed": "failed",
    "completed": "completed",
    "registered": "registered",
    **dict.fromkeys(
        [
            "launched",
            "initialized",
            "attempted",
            "attended",
            "experienced",
            "progressed",
            "resumed",
            "terminated",
            "abandoned",
        ],
        "attended",
    ),
}
STRENGTH = ["registered", "attended", "completed", "failed", "passed"]


def pid(key: str, source: str, ref: str) -> str:
    return hmac.new(key.encode(), f"{source}\x1f{ref.strip()}".encode(), hashlib.sha256).hexdigest()


def _verb_status(iri: str, config_verbs: dict[str, str]) -> str | None:
    if iri in config_verbs:
        return config_verbs[iri]
    for prefix in ("http://adlnet.gov/expapi/verbs/", "https://w3id.org/xapi/adl/verbs/"):
        if iri.startswith(prefix):
            return VERB_STATUS.get(iri[len(prefix) :])
    return VERB_STATUS.get(iri.rstrip("/").rsplit("/", 1)[-1].casefold())


def _title(definition: dict | None) -> str | None:
    names = (definition or {}).get("name") or {}
    for tag in ("en", "en-US", "en-GB"):
        if names.get(tag):
            return names[tag]
    en = sorted(t for t in names if t.startswith("en-"))
    if en:
        return names[en[0]]
    return names[sorted(names)[0]] if names else None


@dataclass
class XapiRecord:
    learner: str
    activity_code: str
    registration: str | None
    status: str
    start: dt.date
    end: dt.date
    source_row: int
    title: str | None
    nation_delivered: str | None
    mapped: bool


def _utc_date(ts: str) -> dt.date:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(dt.UTC).date()


def judge_xapi(statements: list[dict], config: dict, roster: dict[str, str]) -> tuple[dict, list[XapiRecord]]:
    """Only what DATASIM's TCCC export exercises (mbox actors, no voids, no groups, valid
    timestamps): the README's verb table, record grain, dates, title, nation and mapping."""
    xcfg = config.get("xapi", {})
    activities = xcfg.get("activities", {})
    verbs = xcfg.get("verbs", {})
    groups: dict[tuple, list[tuple[int, dict, str]]] = defaultdict(list)
    used = ignored = 0
    for pos, st in enumerate(statements, 1):
        status = _verb_status(st["verb"]["id"], verbs)
        obj = st["object"]
        if status is None or obj.get("objectType") not in (None, "Activity") or not obj.get("id"):
            ignored += 1
            continue
        used += 1
        learner = "mbox:" + st["actor"]["mbox"].strip()
        reg = (st.get("context", {}).get("registration") or "").strip().lower() or None
        groups[(learner, obj["id"], reg)].append((pos, st, status))
    records = []
    for (learner, iri, reg), sts in groups.items():
        times = sorted(_utc_date(s["timestamp"]) for _, s, _ in sts)
        title = next(
            (t for _, s, _ in sorted(sts, key=lambda x: x[0]) if (t := _title(s["object"].get("definition")))), None
        )
        records.append(
            XapiRecord(
                learner=learner,
                activity_code=activities.get(iri, iri),
                registration=reg,
                status=max((s for _, _, s in sts), key=STRENGTH.index),
                start=times[0],
                end=times[-1],
                source_row=min(p for p, _, _ in sts),
                title=title,
                nation_delivered=roster.get(learner.removeprefix("mbox:")),
                mapped=iri in activities,
            )
        )
    counts = {"read": len(statements), "used": used, "ignored": ignored, "quarantined": 0}
    return counts, records


def load_config(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def load_roster(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["learner"].strip(): r["nation"].strip() for r in csv.DictReader(fh)}


def load_statements(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- metrics (CONTRACT definitions)


def metrics_participation(rows: list[dict]) -> dict[tuple, dict[str, int]]:
    """rows: current participation records (dicts with start_date, end_date, nation, framework,
    programme, headcount, participant_pid, activity_code, status)."""
    out: dict[tuple, dict] = defaultdict(
        lambda: {"participants": 0, "pids": set(), "participant_events": 0, "codes": set(), "person_days": 0}
    )
    for r in rows:
        if r["status"] not in ATTENDED:
            continue
        s: dt.date = r["start_date"]
        cell = out[(s.year, (s.month - 1) // 3 + 1, r["nation"], r["framework"], r["programme"])]
        cell["participants"] += r["headcount"]
        if r["participant_pid"] is not None:
            cell["pids"].add(r["participant_pid"])
        cell["participant_events"] += 1
        cell["codes"].add(r["activity_code"])
        cell["person_days"] += r["headcount"] * ((r["end_date"] - s).days + 1)
    return {
        k: {
            "participants": c["participants"],
            "individuals": len(c["pids"]),
            "participant_events": c["participant_events"],
            "activities": len(c["codes"]),
            "person_days": c["person_days"],
        }
        for k, c in out.items()
    }


def partner_coverage(
    rows: list[dict], nations: list[NationPeriod], year: int, programme: str, framework: str
) -> tuple[int, int, float | None]:
    active = len(active_partners(nations, year, framework))
    engaged = len(
        {
            r["nation"]
            for r in rows
            if r["status"] in ATTENDED
            and r["start_date"].year == year
            and r["programme"] == programme
            and r["framework"] == framework
        }
    )
    return active, engaged, (engaged / active if active else None)
