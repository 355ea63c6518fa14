"""Hostile LRS exports (README "xAPI sources (LRS exports)", "What happens to each row", "Limits").

Written from the README alone, as a careless or hostile LRS, programme office or co-worker would deliver:
poison numbers and timestamps, agents/verbs/objects/contexts of the wrong JSON type, markup and control
characters in names and IRIs, broken JSON Lines (CRLF, BOM, NUL, bad UTF-8, huge lines, a million blank
lines), Statement API pages of the wrong shape, voiding chains, and hostile rosters.

Every test checks the bar as well as its own outcome (see `_check`):

- the file is stored or rejected with a reason, never a crash (a failure out of `ingest_batch`);
- statements read = used + ignored + quarantined and rows_read = rows_stored + rows_quarantined + rows_duplicate;
- no planted value appears in a reason, a quarantine reason, a quarantine `problem` text, a log record or
  the console (positions and columns are named instead);
- no learner name, e-mail, account name or raw identifier is kept anywhere, quarantine included;
- no raw control or bidi character reaches a message or a log.

Where the README is silent the test takes the demanding user's side and says so in a comment
("README silent: ...").  Memory-heavy cases run in a subprocess that reports its peak RSS (VmHWM);
there is no timing assertion anywhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.conftest import ingest_all, kept_build_result, read_parquet_rows
from txpipe.settings import REPO_ROOT, Settings

ADL = "http://adlnet.gov/expapi/verbs/"
CMI5 = "https://w3id.org/xapi/adl/verbs/"
COURSE = "https://example.org/courses/gender-awareness"
NATION = "https://example.org/xapi/extensions/nation"

# Planted markers. LEARNER may never be kept anywhere (quarantine included); VALUE is an ordinary
# delivered value: it may be kept in the quarantine's offending_values/record, never in a message.
LEARNER = "lrnsecret"
VALUE = "valsecret"

CONFIG = f'''format = "xapi"
[xapi]
nation_extension = "{NATION}"
[xapi.activities]
"{COURSE}" = "ADL-169"
[defaults]
provider = "JADL"
'''
ROSTER_CONFIG = f'''format = "xapi"
[xapi]
roster = "roster.csv"
[xapi.activities]
"{COURSE}" = "ADL-169"
'''

CONTROL_CHARS = [chr(c) for c in range(0x20) if chr(c) not in "\n\t"] + ["\x7f", "\u202e", "\u202d", "\u2066", "\u2067"]


# ---------------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------------
def agent(who: int | str = 1) -> dict:
    return {"objectType": "Agent", "name": f"Lrnsecret Person {who}", "mbox": f"mailto:{LEARNER}.{who}@example.org"}


def stmt(
    verb: str = "completed",
    who: int | str = 1,
    when: str = "2024-03-04T10:00:00Z",
    target: str = COURSE,
    nation="GEO",
    **extra,
) -> dict:
    s = {
        "actor": agent(who),
        "verb": {"id": verb if verb.startswith("http") else ADL + verb},
        "timestamp": when,
        "object": {"objectType": "Activity", "id": target, "definition": {"name": {"en-US": "Gender awareness"}}},
        "context": {"extensions": {NATION: nation}},
    }
    s.update(extra)
    return s


def passed(score: dict | None = None, **extra) -> dict:
    result = {"success": True}
    if score is not None:
        result["score"] = score
    return stmt("passed", result=result, **extra)


def jsonl(*statements) -> str:
    return "\n".join(s if isinstance(s, str) else json.dumps(s) for s in statements) + "\n"


# ---------------------------------------------------------------------------------------------------
# Fixtures and the checks every test makes
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def world(tmp_path, monkeypatch, capfd):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "lrs.toml").write_text(CONFIG, encoding="utf-8")
    (sources / "ros.toml").write_text(ROSTER_CONFIG, encoding="utf-8")
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", "hostile-key")
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(sources))
    landing = tmp_path / "landing"
    landing.mkdir()
    return World(Settings.from_env(), landing, tmp_path, capfd)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:
            self.lines.append(repr(record.msg))
        if record.exc_info:
            self.lines.append("".join(logging.Formatter().formatException(record.exc_info)))


@dataclasses.dataclass
class World:
    settings: Settings
    landing: Path
    tmp: Path
    capfd: object = None  # the console, searched like the logs

    def write(self, name: str, content: str | bytes, source: str = "lrs") -> Path:
        folder = self.landing / source
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    def ingest(self) -> tuple[dict, str]:
        """Ingest every delivery; the records by file name and every log line and console output."""
        handler = _Collect()
        root, ours = logging.getLogger(), logging.getLogger("txpipe")
        old_levels = root.level, ours.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)  # every library's INFO and up, and all of txpipe's own logging
        ours.setLevel(logging.DEBUG)
        try:
            records = ingest_all(self.settings, self.landing)
        finally:
            root.removeHandler(handler)
            root.setLevel(old_levels[0])
            ours.setLevel(old_levels[1])
        messages = "\n".join(handler.lines)
        if self.capfd is not None:
            out, err = self.capfd.readouterr()
            messages += "\n" + out + "\n" + err
        return {r.source_file: r for r in records}, messages

    def rows(self, zone: str, record) -> list[dict]:
        rows = [
            r
            for r in read_parquet_rows(self.settings.lake / zone)
            if r["source_file"] == record.source_file and r["batch_id"] == record.batch_id
        ]
        return sorted(rows, key=lambda r: r["source_row"])


def _problems(quarantine: list[dict]) -> list[str]:
    out = []
    for q in quarantine:
        try:
            values = json.loads(q["offending_values"] or "{}")
        except ValueError:
            values = {}
        if isinstance(values, dict) and isinstance(values.get("problem"), str):
            out.append(values["problem"])
    return out


def _check(w: World, record, messages: str = "", secrets: tuple[str, ...] = (), learners: tuple[str, ...] = ()) -> None:
    """The bar, for one delivery: settled, balanced, nothing leaked."""
    assert record.status in ("stored", "rejected"), record.status
    assert record.rows_read == record.rows_stored + record.rows_quarantined + record.rows_duplicate, dataclasses.asdict(
        record
    )
    st = record.statements
    if st is not None:
        assert st["read"] == st["used"] + st["ignored"] + st["quarantined"], st
        assert min(st.values()) >= 0, st
    stored = w.rows("participation", record)
    quarantine = w.rows("quarantine", record)
    if record.status == "rejected":
        assert record.reason, "a rejection without a reason"
        assert record.rows_stored == record.rows_quarantined == 0 and not stored and not quarantine
    else:
        assert len(stored) == record.rows_stored and len(quarantine) == record.rows_quarantined
        assert st is not None, "an xAPI export stored without statement counts"
        # rows are the records made from used statements plus the quarantined statements
        made = record.rows_read - st["quarantined"]
        assert 0 <= made <= st["used"] and (made > 0 or st["used"] == 0), (st, dataclasses.asdict(record))
        assert sum(record.quarantine_reasons.values()) >= st["quarantined"]
        for row in stored:
            if row["score"] is not None:
                assert math.isfinite(row["score"]) and 0 <= row["score"] <= 100, row["score"]
    said = "\n".join(
        [
            record.reason or "",
            json.dumps(record.quarantine_reasons),
            json.dumps(record.warnings),
            json.dumps(record.ignored_columns),
            messages,
            *(r for q in quarantine for r in q["reasons"]),
            *_problems(quarantine),
        ]
    )
    for secret in (LEARNER, VALUE, *secrets, *learners):
        assert secret.lower() not in said.lower(), f"a delivered value ({secret[:40]!r}) in a message, reason or log"
    raw = [c for c in CONTROL_CHARS if c in said]
    assert not raw, f"raw control/bidi characters {raw!r} in a message, reason or log"
    kept = json.dumps(
        [{k: v for k, v in r.items() if k not in ("ingested_at",)} for r in stored + quarantine],
        default=str,
        ensure_ascii=False,
    ).lower()
    for secret in (LEARNER, *learners):
        assert secret.lower() not in kept, f"a learner identifier ({secret[:40]!r}) kept in the lake or quarantine"
    ledger = "\n".join(p.read_text("utf-8") for p in w.settings.ledger_dir.glob("*.json")).lower()
    for secret in (LEARNER, VALUE, *secrets, *learners):
        assert secret.lower() not in ledger, f"a delivered value ({secret[:40]!r}) in the ledger"


def _one(w: World, name: str, content, source: str = "lrs", **check):
    w.write(name, content, source)
    records, messages = w.ingest()
    assert set(records) == {name}, set(records)
    record = records[name]
    _check(w, record, messages, **check)
    return record


def _at(w: World, record, position: int) -> tuple[str, dict | None]:
    """What became of the statement at a position: ('used', row) when a stored record starts there,
    ('quarantined', row) when a quarantine row is there, ('none', None) when no row is there."""
    stored = [r for r in w.rows("participation", record) if r["source_row"] == position]
    quarantined = [r for r in w.rows("quarantine", record) if r["source_row"] == position]
    assert len(stored) + len(quarantined) <= 1, (stored, quarantined)
    if stored:
        return "used", stored[0]
    if quarantined:
        return "quarantined", quarantined[0]
    return "none", None


# A control statement on line 1 (learner "ctl"), then the case on line 2: the control must be used and
# make the record at position 1 whatever line 2 does.
def _case(w: World, case, **check):
    record = _one(w, "export.jsonl", jsonl(stmt("attended", who="ctl"), case), **check)
    assert record.status == "stored", record.reason
    control = _at(w, record, 1)
    assert control[0] == "used" and control[1]["status"] == "attended", control
    assert record.statements["read"] == 2, record.statements
    return record


def _quarantined(w: World, record, rules: set[str], position: int = 2) -> dict:
    what, row = _at(w, record, position)
    assert what == "quarantined", f"statement {position} was {what}: {row}"
    assert set(row["reasons"]) & rules, f"reasons {row['reasons']} are none of {sorted(rules)}"
    return row


def _used(w: World, record, position: int = 2) -> dict:
    what, row = _at(w, record, position)
    assert what == "used", f"statement {position} was {what}: {row}"
    assert record.statements["used"] >= 2, record.statements
    return row


# ---------------------------------------------------------------------------------------------------
# Statement-level cases, grouped: one JSON Lines export per group (line 1 a control statement, then one
# case per line, each by its own learner), judged position by position. One delivery per group keeps the
# file fast; a failure lists every case of the group that went wrong.
# ---------------------------------------------------------------------------------------------------
def used(**fields) -> tuple:
    return ("used", fields)


def quarantined(*rules: str) -> tuple:
    return ("quarantined", set(rules))


IGNORED = ("ignored", None)


def either(*options: tuple) -> tuple:
    return ("either", options)


def _judge(w: World, record, position: int, expect: tuple) -> str | None:
    what, row = _at(w, record, position)
    kind, arg = expect
    if kind == "either":
        problems = [_judge(w, record, position, option) for option in arg]
        return None if None in problems else " | ".join(problems)
    shown = what + (f" {row['reasons']}" if what == "quarantined" else "")
    if kind == "used":
        if what != "used":
            return f"{shown}, expected used"
        for key, value in arg.items():
            got = row[key]
            got = got.isoformat() if hasattr(got, "isoformat") else got
            if got != value:
                return f"used with {key}={got!r}, expected {value!r}"
        return None
    if kind == "quarantined":
        if what != "quarantined" or (arg and not set(row["reasons"]) & arg):
            return f"{shown}, expected quarantined" + (f" as one of {sorted(arg)}" if arg else "")
        return None
    if kind == "ignored":
        return None if what == "none" else f"{shown}, expected ignored (no row)"
    raise AssertionError(kind)


def _relearn(case, i: int):
    """Give the case its own learner (cases are written as learner 2)."""
    if isinstance(case, str):
        return case.replace(f"{LEARNER}.2@", f"{LEARNER}.c{i}@")
    if isinstance(case, dict) and case.get("actor") == agent(2):
        return {**case, "actor": agent(f"c{i}")}
    return case


def _group(w: World, cases: list[tuple[str, object, tuple]], **check):
    lines = [stmt("attended", who="ctl")] + [_relearn(case, i) for i, (_, case, _) in enumerate(cases, start=2)]
    record = _one(w, "export.jsonl", jsonl(*lines), **check)
    assert record.status == "stored", record.reason
    assert record.statements["read"] == len(lines), record.statements
    control = _at(w, record, 1)
    assert control[0] == "used" and control[1]["status"] == "attended", control
    failures = [
        f"{cid}: {problem}"
        for i, (cid, _, expect) in enumerate(cases, start=2)
        if (problem := _judge(w, record, i, expect))
    ]
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)
    if not any(e[0] == "either" for _, _, e in cases):
        assert record.statements["ignored"] == sum(e == IGNORED for _, _, e in cases), record.statements
    return record


# ---------------------------------------------------------------------------------------------------
# Scores: numbers of thousands of digits, float extremes, NaN/Infinity, scaled of the wrong type
# ---------------------------------------------------------------------------------------------------
HUGE = "7" * 5000  # a 5,000-digit number (past Python's 4,300-digit int conversion limit)
FOUR_HUNDRED = str(10**400)  # parses to an int; as a float it overflows


def _score_line(raw=None, min_=None, max_=None, scaled=None, **tokens: str) -> str:
    """A passed statement of learner 2 with a score; `tokens` (raw=..., min=..., max=..., scaled=...) are
    spliced in as literal JSON tokens (huge numbers, NaN, Infinity) that json.dumps cannot write."""
    score = {}
    for key, value in (("raw", raw), ("min", min_), ("max", max_), ("scaled", scaled)):
        if value is not None:
            score[key] = value
    for key in tokens:
        score[key] = f"@{key}@"
    line = json.dumps(passed(score, who=2))
    for key, token in tokens.items():
        line = line.replace(f'"@{key}@"', token)
    return line


# a used score must be none or a finite 0..100 (checked for every stored row by _check), or be judged
SCORE_OK_OR_JUDGED = ("either", (("used", {}), ("quarantined", {"score_invalid"})))


def _not_json_or(*expects: tuple) -> tuple:
    """NaN and Infinity are not JSON: a strict reader may call the line malformed."""
    return either(*expects, quarantined("json_line_malformed"))


SCORES = [
    # README: (raw - min) / (max - min) x 100 when raw, min and max are all numbers and max differs from min
    ("raw=max=1e308", _score_line(raw=1e308, min_=0, max_=1e308), used(score=100.0)),
    ("raw=min=-1e308", _score_line(raw=-1e308, min_=-1e308, max_=1e308), used(score=0.0)),
    # README: the formula. (1e308 - -1e308) overflows a float to inf, but the formula's value is 100.
    # README silent on overflow: demanding, the formula's value, not a silent none
    ("range-overflows-float", _score_line(raw=1e308, min_=-1e308, max_=1e308), used(score=100.0)),
    ("max==min-falls-to-scaled", _score_line(raw=5, min_=5, max_=5, scaled=0.7), used(score=70.0)),
    ("max==min-no-scaled", _score_line(raw=5, min_=5, max_=5), used(score=None)),
    ("min>max-formula", _score_line(raw=5, min_=10, max_=0), used(score=50.0)),
    ("min>max-formula-negative", _score_line(raw=15, min_=10, max_=0), quarantined("score_invalid")),
    ("raw-as-string", _score_line(raw="5", min_=0, max_=10), used(score=None)),
    # README silent on booleans: JSON true is not a number (Python's True == 1 must not score 100)
    ("raw-as-bool", _score_line(raw=True, min_=0, max_=1), used(score=None)),
    ("scaled=1", _score_line(scaled=1), used(score=100.0)),
    ("scaled-negative-in-range", _score_line(scaled=-0.5), used(score=None)),
    (
        "scaled-null-is-absent",
        _score_line(raw=3, min_=0, max_=4).replace('"raw": 3', '"scaled": null, "raw": 3'),
        used(score=75.0),
    ),
    ("scaled-subnormal", _score_line(scaled=1e-320), used(score=0.0)),
    # "read as its digits and judged by the rules" (README): 50 if the 5,000-digit numbers count as
    # numbers, none if not; never a crash
    (
        "5000-digit-raw-and-max",
        _score_line(min_=0, raw="5" + "0" * 4999, max="1" + "0" * 5000),
        either(used(score=50.0), used(score=None)),
    ),
    ("5000-digit-raw", _score_line(min_=0, max_=10, raw=HUGE), SCORE_OK_OR_JUDGED),
    ("5000-digit-raw-and-max-equal", _score_line(min_=0, raw=HUGE, max=HUGE), SCORE_OK_OR_JUDGED),
    # README: a number beyond what a 64-bit float holds counts as not a number, so no raw/min/max
    # score and no scaled: the record is used without a score (as with raw given as text)
    ("400-digit-raw-over-1", _score_line(min_=0, max_=1, raw=FOUR_HUNDRED), used(score=None)),
    ("raw-min-max-NaN", _score_line(raw="NaN", min="NaN", max="NaN"), _not_json_or(used(score=None))),
    ("raw-max-Infinity", _score_line(min_=0, raw="Infinity", max="Infinity"), _not_json_or(used(score=None))),
    ("min-max-infinite", _score_line(raw=1, min="-Infinity", max="Infinity"), _not_json_or(used(score=None))),
    ("1e400-overflows-to-inf", _score_line(raw="1e400", min="0", max="1e400"), SCORE_OK_OR_JUDGED),
    ("minus-zero-range", _score_line(raw="-0.0", min="-0.0", max="0.0"), used(score=None)),
]

# README: scaled outside -1..1, or not a number -> xapi_scaled_score_out_of_range
SCALED = [
    (f"scaled={token[:14]}", _score_line(scaled=token), quarantined("xapi_scaled_score_out_of_range"))
    for token in (
        "1e308",
        "-1e308",
        "1.0000001",
        "-1.0000001",
        FOUR_HUNDRED,
        HUGE,
        '"0.5"',
        "true",
        "false",
        "[0.5]",
        '{"v": 0.5}',
        '"valsecret"',
        "1e400",
    )
]
SCALED += [
    (f"scaled={token}", _score_line(scaled=token), quarantined("xapi_scaled_score_out_of_range", "json_line_malformed"))
    for token in ("NaN", "Infinity", "-Infinity")
]

RESULTS = [
    (f"result={result!r}"[:40], stmt("passed", who=2, result=result), either(used(score=None), quarantined()))
    for result in (
        "valsecret",
        [],
        5,
        {"score": "high"},
        {"score": [1, 2]},
        {"score": None},
        {"success": "false", "score": {"raw": {"x": 1}, "min": [], "max": "10"}},
    )
]


def test_scores_at_the_extremes(world):
    _group(world, SCORES, secrets=("7777777777",))


def test_scaled_out_of_range_or_not_a_number(world):
    record = _group(world, SCALED, secrets=("7777777777",))
    assert record.statements["quarantined"] == len(SCALED)


def test_result_of_the_wrong_shape(world):
    _group(world, RESULTS)


# ---------------------------------------------------------------------------------------------------
# Timestamps (README: YYYY-MM-DDThh:mm[:ss[.up to 9 digits]][Z|+hh:mm|+hhmm|+hh], years 1-9999 in UTC)
# ---------------------------------------------------------------------------------------------------
def _when(when) -> dict:
    return stmt("completed", who=2, when=when)


INVALID_WHEN = [
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",  # UTC is in the year 10000
    "0001-01-01T00:00:00+14:00",  # UTC is in the year 0
    "",
    " ",
    "valsecret",
    "2024-03-04T10:00:00Z" + "x" * 50,
    "2024-03-04T10:00:00Z" + "0" * 100_000,
    "2024-03-04T10:00:00." + "1" * 60 + "Z",  # a fraction of more than 9 digits
    "2024-03-04T10:00:00.1234567890Z",
    "2024-W10-1T10:00:00Z",  # an ISO 8601 week date: not the form the README reads
    "2024-02-30T10:00:00Z",
    "2024-03-04T10:00:00+25:00",
    "2024-13-01T00:00:00Z",
    "2024-03-04T10:60:00Z",
    "T",
    "Z",
    "２０２４-03-04T10:00:00Z",  # full-width digits, deliberately  # noqa: RUF001
    "2024-03-04T10:00:00Z\n",
    " 2024-03-04T10:00:00Z",
    "2024-03-04T10:00:00Z\x00",
    "2024-03-04 10:00:00Z",
    "2024-03-04",
    1709546400,
    2024.0,
    None,
    True,
    ["2024-03-04T10:00:00Z"],
    {"date": "2024-03-04"},
]

VALID_WHEN = [
    ("2024-01-01T05:00:00+14:00", "2023-12-31"),  # +14:00 crosses the year back
    ("2023-12-31T20:00:00-12:00", "2024-01-01"),  # -12:00 crosses it forward
    ("2024-03-04T10:00:00", "2024-03-04"),  # no offset: UTC
    ("2024-03-04T10:00Z", "2024-03-04"),  # no seconds
    ("2024-03-04T23:30:00-0030", "2024-03-05"),  # +hhmm
    ("2024-03-04T01:00:00+05", "2024-03-03"),  # +hh
    ("2024-03-04T10:00:00.123456789Z", "2024-03-04"),
    ("1999-12-31T23:59:59-01:00", "2000-01-01"),
    # README silent on a leap second (it names minutes over 59, not seconds 60); ISO 8601 and RFC 3339
    # (and so xAPI) allow 23:59:60: demanding, used on its day
    ("2016-12-31T23:59:60Z", "2016-12-31"),
]


def test_timestamps_that_are_not_iso_8601_date_and_time(world):
    cases = [(f"when={w!r}"[:40], _when(w), quarantined("xapi_timestamp_invalid")) for w in INVALID_WHEN]
    record = _group(world, cases, secrets=("0" * 60, "1" * 60))
    assert record.statements["quarantined"] == len(INVALID_WHEN)


def test_timestamps_at_the_edges_give_their_utc_date(world):
    _group(world, [(f"when={w}", _when(w), used(start_date=d, end_date=d)) for w, d in VALID_WHEN])


def test_valid_timestamps_outside_1900_2099_reach_the_date_rules(world):
    date_rules = quarantined("start_date_invalid", "end_date_invalid")
    _group(
        world,
        [
            ("1899", _when("1899-12-31T10:00:00Z"), date_rules),
            ("0001", _when("0001-01-01T10:00:00Z"), date_rules),
            ("9999", _when("9999-12-31T23:59:59Z"), date_rules),
            ("2100", _when("2100-01-01T10:00:00Z"), date_rules),
        ],
    )


# ---------------------------------------------------------------------------------------------------
# Actor, verb, object, context of the wrong type
# ---------------------------------------------------------------------------------------------------
SHA1 = hashlib.sha1(f"mailto:{LEARNER}@example.org".encode()).hexdigest()
ODD_NUMBERS = ("987654321987", "13579246801357")
BAD_ACTORS = [
    {"name": "Lrnsecret A", "mbox": 987654321987},
    {"name": "Lrnsecret A", "mbox": [f"mailto:{LEARNER}@example.org"]},
    {"name": "Lrnsecret A", "mbox": {"mailto": f"{LEARNER}@example.org"}},
    {"name": "Lrnsecret A", "mbox": ""},
    {"name": "Lrnsecret A", "mbox": "   "},
    {"name": "Lrnsecret A", "mbox_sha1sum": 13579246801357},
    {"name": "Lrnsecret A", "openid": {"url": f"https://{LEARNER}.example.org"}},
    {"name": "Lrnsecret A", "account": f"https://lms.example.org|{LEARNER}"},
    {"name": "Lrnsecret A", "account": [f"{LEARNER}"]},
    {"name": "Lrnsecret A", "account": {"homePage": "https://lms.example.org", "name": ""}},
    {"name": "Lrnsecret A", "account": {"homePage": "https://lms.example.org", "name": " "}},
    # README silent on an account without a homePage, or with a part of the wrong type: xAPI requires both
    # as strings; demanding, no identifier
    {"name": "Lrnsecret A", "account": {"homePage": "https://lms.example.org"}},
    {"name": "Lrnsecret A", "account": {"name": f"{LEARNER}-acct"}},
    {"name": "Lrnsecret A", "account": {"homePage": 5, "name": f"{LEARNER}-acct"}},
    {"name": "Lrnsecret A", "account": {"homePage": "https://lms.example.org", "name": 42}},
    {"name": "Lrnsecret A"},
    {"objectType": "Agent"},
    f"mailto:{LEARNER}@example.org",
    [{"mbox": f"mailto:{LEARNER}@example.org"}],
    None,
    7,
    True,
]


def test_actor_of_the_wrong_type_is_actor_missing(world):
    cases = [
        (f"actor={a!r}"[:60], stmt("completed", who=2) | {"actor": a}, quarantined("xapi_actor_missing"))
        for a in BAD_ACTORS
    ]
    _group(world, cases, learners=ODD_NUMBERS)


def test_group_actors_of_any_shape_and_an_agent_known_by_its_sha1(world):
    groups = [
        {
            "objectType": "Group",
            "name": "Lrnsecret Cohort",
            "mbox": f"mailto:{LEARNER}-cohort@example.org",
            "member": [{"mbox": f"mailto:{LEARNER}-m@example.org"}],
        },
        {"objectType": "Group", "member": "valsecret"},
        {"objectType": "Group", "member": [{"objectType": "Group"}] * 3},
    ]
    cases = [
        (f"group={g!r}"[:40], stmt("completed", who=2) | {"actor": g}, quarantined("xapi_actor_group")) for g in groups
    ]
    cases.append(
        (
            "sha1",
            stmt("completed", who=2) | {"actor": {"name": "Lrnsecret Hash", "mbox_sha1sum": SHA1.upper()}},
            used(status="completed"),
        )
    )
    _group(world, cases, learners=(SHA1,))


BAD_VERBS = [
    {"id": 42},
    {"id": [ADL + "passed"]},
    {"id": None},
    {"id": ""},
    {"id": "  "},
    {"id": {"x": ADL + "passed"}},
    {"display": {"en-US": "passed"}},
    ADL + "passed",
    "passed",
    None,
    [],
    1.5,
]


def test_verb_without_a_string_id_is_verb_missing(world):
    _group(
        world,
        [
            (f"verb={v!r}"[:40], stmt("completed", who=2) | {"verb": v}, quarantined("xapi_verb_missing"))
            for v in BAD_VERBS
        ],
    )


def test_verbs_outside_the_table_and_hostile_verb_iris(world):
    # README: first ADL's and cmi5's IRIs, then the last path segment of any other IRI, case-insensitive;
    # verbs outside the table are ignored (and their IRIs, delivered values, are quoted nowhere)
    _group(
        world,
        [
            (
                "other-vocabulary-PASSED",
                stmt("https://example.org/verbs/PASSED", who=2, result={"success": True}),
                used(status="passed"),
            ),
            ("cmi5-satisfied", stmt(CMI5 + "satisfied", who=2), IGNORED),
            ("markup", stmt("https://example.org/verbs/<script>valsecret</script>", who=2), IGNORED),
            ("newline", stmt("https://example.org/verbs/valsecret\n\x1b[31m", who=2), IGNORED),
            ("huge", stmt("https://example.org/verbs/" + "valsecret" * 50_000, who=2), IGNORED),
            ("answered", stmt("answered", who=2), IGNORED),
        ],
    )


def test_objects_without_a_usable_id(world):
    def obj(o):
        s = stmt("completed", who=2)
        s["object"] = o
        return s

    no_object = stmt("completed", who=2)
    del no_object["object"]
    # README: no object -> xapi_object_missing; an object that is not an activity (an Agent, a Group, a
    # SubStatement, no id) -> ignored. README silent on an id of the wrong type: ignored as no id, or
    # quarantined; never used under a made-up activity
    odd = either(IGNORED, quarantined("xapi_object_missing", "activity_code_missing", "activity_code_malformed"))
    _group(
        world,
        [
            ("absent", no_object, quarantined("xapi_object_missing")),
            ("null", obj(None), quarantined("xapi_object_missing")),
            ("{}", obj({}), IGNORED),
            ("id-null", obj({"id": None}), IGNORED),
            (
                "agent",
                obj({"objectType": "Agent", "mbox": f"mailto:{LEARNER}-obj@example.org", "name": "Lrnsecret O"}),
                IGNORED,
            ),
            (
                "substatement",
                obj(
                    {
                        "objectType": "SubStatement",
                        "actor": agent(99),
                        "verb": {"id": ADL + "passed"},
                        "object": {"id": COURSE},
                    }
                ),
                IGNORED,
            ),
            ("id-blank", obj({"objectType": "Activity", "id": ""}), odd),
            ("id-number", obj({"id": 12345}), odd),
            ("id-list", obj({"id": ["x"]}), odd),
            ("id-object", obj({"id": {"iri": COURSE}}), odd),
            ("string", obj("valsecret"), either(IGNORED, quarantined("xapi_object_missing"))),
            ("number", obj(12345), either(IGNORED, quarantined("xapi_object_missing"))),
            ("list", obj([{"id": COURSE}]), either(IGNORED, quarantined("xapi_object_missing"))),
        ],
    )


CONTEXTS = [
    ("valsecret", None),
    ([], None),
    (5, None),
    ({"registration": 123, "extensions": {NATION: "GEO"}}, "GEO"),
    ({"registration": {"r": 1}, "extensions": {NATION: "GEO"}}, "GEO"),
    ({"registration": ["r1", "r2"], "extensions": {NATION: "GEO"}}, "GEO"),
    ({"registration": None, "extensions": {NATION: "GEO"}}, "GEO"),
    ({"registration": "", "extensions": {NATION: "GEO"}}, "GEO"),
    ({"extensions": "valsecret"}, None),
    ({"extensions": [NATION, "GEO"]}, None),
    ({"extensions": None}, None),
    ({"contextActivities": "valsecret", "extensions": {NATION: "GEO"}}, "GEO"),
    ({"contextActivities": {"grouping": "valsecret"}, "extensions": {NATION: "GEO"}}, "GEO"),
    ({"contextActivities": {"grouping": [1, None, "x", {"id": 5}]}, "extensions": {NATION: "GEO"}}, "GEO"),
]


def test_context_of_the_wrong_type(world):
    # no usable nation extension: the record is quarantined as nation_missing; otherwise used as is
    _group(
        world,
        [
            (
                f"context={c!r}"[:50],
                stmt("completed", who=2, context=c),
                quarantined("nation_missing") if nation is None else used(nation=nation, activity_code="ADL-169"),
            )
            for c, nation in CONTEXTS
        ],
    )


def test_registrations_of_the_wrong_type_are_each_accounted(world):
    # README silent on a registration that is not a string: demanding, three statements of one learner
    # make one to three records, every statement counted, the file settles
    lines = [
        stmt("attended", who=2, context={"registration": r, "extensions": {NATION: "GEO"}}) for r in (123, "123", [1])
    ]
    record = _one(world, "export.jsonl", jsonl(*lines))
    assert record.status == "stored" and record.statements == {"read": 3, "used": 3, "ignored": 0, "quarantined": 0}
    assert 1 <= record.rows_stored <= 3


def test_a_single_grouping_activity_not_in_a_list_counts_for_its_course(world):
    # README silent; xAPI 1.0 lets each contextActivities property be one Activity or a list: demanding,
    # a lone cmi5 course in grouping maps the unit like a one-element list does
    unit = stmt(
        "completed",
        who=2,
        target=COURSE + "/au/1",
        context={"contextActivities": {"grouping": {"id": COURSE}}, "extensions": {NATION: "GEO"}},
    )
    _group(world, [("grouping-object", unit, used(activity_code="ADL-169"))])


# ---------------------------------------------------------------------------------------------------
# The nation extension
# ---------------------------------------------------------------------------------------------------
NATION_VALUES = [
    ["GEO"],
    268,
    268.0,
    True,
    {"code": "GEO"},
    "",
    "valsecret" * 10_000,
    "<script>alert('valsecret')</script>",
    "GEO\u202e",
    "\x1b[31mvalsecret",
    '=HYPERLINK("http://valsecret")',
]


def test_nation_extension_that_is_not_a_nation(world):
    _group(
        world,
        [
            (f"nation={v!r}"[:40], stmt("completed", who=2, nation=v), quarantined("nation_unknown", "nation_missing"))
            for v in NATION_VALUES
        ],
    )


# ---------------------------------------------------------------------------------------------------
# Activity names and IRIs: markup, control characters, bidi, size
# ---------------------------------------------------------------------------------------------------
def _named(name) -> dict:
    s = stmt("completed", who=2)
    s["object"]["definition"] = {"name": name}
    return s


def test_activity_names_are_data(world):
    long_title = either(used(), quarantined("activity_title_too_long"))  # a rule of the GX suite (500 chars)
    _group(
        world,
        [
            (
                "script",
                _named({"en-US": "<script>alert('valsecret')</script>"}),
                used(activity_title="<script>alert('valsecret')</script>"),
            ),
            ("control", _named({"en-US": "\x1b[31mvalsecret\x07\x00"}), either(used(), quarantined())),
            ("bidi", _named({"en-US": "\u202egnp.valsecret.exe"}), used(activity_title="\u202egnp.valsecret.exe")),
            ("900k", _named({"en": "valsecret " * 90_000}), long_title),
            ("string", _named("valsecret"), used()),
            ("number", _named(5), used()),
            ("list", _named(["valsecret"]), used()),
            ("en-number", _named({"en-US": 5}), used()),
            ("en-null", _named({"en-US": None}), used()),
            ("empty", _named({}), used()),
            ("null", _named(None), used()),
            (
                "definition-string",
                stmt("completed", who=2) | {"object": {"id": COURSE, "definition": "valsecret"}},
                used(),
            ),
        ],
    )


def test_a_one_mebibyte_activity_name_rejects_the_file_naming_the_limit(world):
    record = _one(world, "export.jsonl", jsonl(stmt("attended", who="ctl"), _named({"en-US": VALUE + "x" * (1 << 20)})))
    assert record.status == "rejected"
    assert "TXPIPE_MAX_FIELD_CHARS" in record.reason and "1000000" in record.reason.replace(",", ""), record.reason


HOSTILE_IRIS = [
    "https://example.org/\x00valsecret",  # written as \\u0000: legal JSON
    "https://example.org/<script>alert('valsecret')</script>",
    "https://example.org/a\nvalsecret\r\nb",
    "https://example.org/\x1b[2J\u202evalsecret",
    "javascript:alert('valsecret')//",
    "https://example.org/\"><img src=x onerror=alert('valsecret')>",
]


def test_unmapped_activity_iris_with_markup_keep_the_iri_in_offending_values_only(world):
    record = _group(
        world,
        [
            (
                f"iri={iri!r}"[:40],
                stmt("completed", who=2, target=iri),
                # README: a record with a NUL in any value is quarantined as nul_character (its message names
                # the column only)
                quarantined("nul_character" if "\x00" in iri else "activity_code_malformed"),
            )
            for iri in HOSTILE_IRIS
        ],
    )
    kept = {json.loads(q["offending_values"]).get("activity_code") for q in world.rows("quarantine", record)}
    # the IRI, so that the map can be completed
    assert kept - {None} == {iri for iri in HOSTILE_IRIS if "\x00" not in iri}


# ---------------------------------------------------------------------------------------------------
# JSON Lines bytes: CRLF, BOM, NUL, invalid UTF-8, every line broken, a million blank lines
# ---------------------------------------------------------------------------------------------------
def test_crlf_line_ends(world):
    text = "\r\n".join(json.dumps(stmt("completed", who=i)) for i in range(3)) + "\r\n"
    record = _one(world, "export.jsonl", text)
    assert record.statements == {"read": 3, "used": 3, "ignored": 0, "quarantined": 0}
    assert record.rows_stored == 3


@pytest.mark.parametrize(
    "name,text",
    [
        ("export.jsonl", jsonl(stmt("completed", who=1), stmt("completed", who=2))),
        ("export.json", json.dumps([stmt("completed", who=1), stmt("completed", who=2)])),
        ("page.json", json.dumps({"statements": [stmt("completed", who=1), stmt("completed", who=2)], "more": ""})),
    ],
)
def test_a_byte_order_mark(world, name, text):
    # README silent for JSON (a CSV may carry a BOM): demanding, an LRS export saved by a Windows tool reads
    # the same with or without it
    record = _one(world, name, "\ufeff" + text)
    assert record.status == "stored", record.reason
    assert record.statements == {"read": 2, "used": 2, "ignored": 0, "quarantined": 0}


def test_nul_bytes_in_lines(world):
    bad = json.dumps(stmt("completed", who=2)).replace('"verb"', '\x00"verb"', 1)
    raw_in_string = json.dumps(stmt("completed", who=4)).replace("Gender", "Gen\x00der")
    record = _one(
        world,
        "export.jsonl",
        jsonl(stmt("completed", who=1), bad, stmt("completed", who=3), raw_in_string, stmt("completed", who=5)),
    )
    # README: a JSON Lines line that is not JSON is quarantined (json_line_malformed) and the rest of the file
    # goes on. README silent on NUL bytes: demanding, the same; or, as for a CSV that is not UTF-8, a rejection
    # that names the line of the first bad byte, so that a 1M-line export can be mended
    if record.status == "rejected":
        assert "line 2" in record.reason, f"rejected without naming where: {record.reason!r}"
        return
    assert record.statements == {"read": 5, "used": 3, "ignored": 0, "quarantined": 2}, record.statements
    _quarantined(world, record, {"json_line_malformed"}, position=2)
    _quarantined(world, record, {"json_line_malformed"}, position=4)  # a raw NUL inside a string is not JSON


def test_invalid_utf8_on_one_line(world):
    good = [json.dumps(stmt("completed", who=i)) for i in (1, 3)]
    bad = json.dumps(stmt("completed", who=2)).encode().replace(b"Gender", b"Gen\xff\xfeder" + VALUE.encode())
    data = good[0].encode() + b"\n" + bad + b"\n" + good[1].encode() + b"\n"
    record = _one(world, "export.jsonl", data)
    # like a CSV, a file that is not UTF-8 may be rejected naming the line; or the line alone quarantined
    if record.status == "rejected":
        assert "line 2" in record.reason, record.reason
    else:
        assert record.statements == {"read": 3, "used": 2, "ignored": 0, "quarantined": 1}
        _quarantined(world, record, {"json_line_malformed"})


def test_every_line_broken_and_no_learner_kept_from_the_broken_lines(world):
    lines = [
        f'{{"actor": {{"name": "Lrnsecret {i}", "mbox": "mailto:{LEARNER}{i}@example.org"}}, "verb": '
        for i in range(500)
    ]
    record = _one(world, "export.jsonl", "\n".join(lines) + "\n")
    assert record.status == "stored", record.reason
    assert record.statements == {"read": 500, "used": 0, "ignored": 0, "quarantined": 500}
    assert (record.rows_read, record.rows_quarantined, record.rows_stored) == (500, 500, 0)
    assert record.quarantine_reasons == {"json_line_malformed": 500}


def test_a_million_blank_lines_between_two_statements(world):
    bad = stmt("completed", who=2, when="not-a-time")
    text = json.dumps(stmt("completed", who=1)) + "\n" + "\n" * 1_000_000 + json.dumps(bad) + "\n"
    record = _one(world, "export.jsonl", text)
    assert record.statements == {"read": 2, "used": 1, "ignored": 0, "quarantined": 1}
    # README: the position is the statement's number; messages also give the line
    [q] = world.rows("quarantine", record)
    assert q["source_row"] == 2 and q["reasons"] == ["xapi_timestamp_invalid"]
    assert "line 1000002" in json.loads(q["offending_values"])["problem"]


def test_blank_lines_of_whitespace_and_form_feeds(world):
    text = (
        " \t\n"
        + json.dumps(stmt("completed", who=1))
        + "\n\x0c\n\u00a0\n"
        + json.dumps(stmt("completed", who=2))
        + "\n   \n"
    )
    record = _one(world, "export.jsonl", text)
    # README silent on lines of other whitespace: demanding, they are blank (or malformed), never a crash;
    # the two statements are used either way
    assert record.statements["used"] == 2


# ---------------------------------------------------------------------------------------------------
# Documents of the wrong shape
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,content",
    [
        ("empty.json", ""),
        ("empty.jsonl", ""),
        ("blank.json", " \n\t\r\n  "),
        ("blank.jsonl", "\n\n\n"),
        ("string.json", '"valsecret"'),
        ("number.json", "4155551234"),
        ("null.json", "null"),
        ("true.json", "true"),
        ("string.jsonl", '"valsecret"\n'),
        ("huge-number.json", HUGE),
        ("float.json", "1e99999"),
        ("nan.json", "NaN"),
        ("object.json", '{"valsecret": 1}'),
    ],
)
def test_documents_that_hold_no_statements(world, name, content):
    record = _one(world, name, content, secrets=("4155551234", "7777777777"))
    # README silent on an empty or non-array document: it is rejected with a reason, or read as statements
    # that are each accounted for (a lone value is `xapi_statement_not_object`)
    if record.status == "stored":
        st = record.statements
        assert st["used"] == 0 and st["read"] == st["quarantined"] <= 1, st
        if st["read"]:
            assert set(record.quarantine_reasons) <= {
                "xapi_statement_not_object",
                "json_line_malformed",
                "xapi_actor_missing",
            }


@pytest.mark.parametrize(
    "page",
    [
        {"statements": {"actor": agent(2), "verb": {"id": ADL + "completed"}}, "more": ""},
        {"statements": "valsecret", "more": ""},
        {"statements": None, "more": ""},
        {"statements": 5},
        {"more": f"/xapi/statements?more={VALUE}-token"},
        {"statements": [stmt("completed", who=2)], "more": ["valsecret"]},
    ],
)
def test_statement_api_pages_of_the_wrong_shape(world, page):
    record = _one(world, "page.json", json.dumps(page))
    # README silent: demanding, a page whose statements are not a list is rejected with a reason (or its
    # content accounted for); never a crash, and the "more" URL (a delivered value) never quoted
    st = record.statements
    if record.status == "stored":
        assert st["read"] <= 1
    if isinstance(page.get("statements"), list):
        assert record.status == "stored" and st == {"read": 1, "used": 1, "ignored": 0, "quarantined": 0}


def test_an_array_mixing_pages_and_statements(world):
    page = {"statements": [stmt("completed", who=1), stmt("completed", who=2)], "more": "/x?page=2"}
    doc = [page, stmt("completed", who=3), {"statements": [stmt("completed", who=4)]}]
    record = _one(world, "mixed.json", json.dumps(doc))
    # README: an array of statements or an array of pages. Silent on a mix: demanding, either the file is
    # rejected with a reason, or every statement inside the pages is read; a page must never be counted as
    # one quarantined "statement" while the statements it holds go uncounted
    if record.status == "stored":
        assert record.statements["read"] == 4, record.statements


def test_json_lines_mixing_pages_and_statements(world):
    page = {"statements": [stmt("completed", who=1), stmt("completed", who=2)]}
    record = _one(world, "mixed.jsonl", jsonl(page, stmt("completed", who=3)))
    if record.status == "stored":
        assert record.statements["read"] == 3, record.statements


def test_pages_nested_in_pages(world):
    inner = {"statements": [stmt("completed", who=1)], "more": ""}
    record = _one(world, "nested.json", json.dumps({"statements": [inner, {"statements": [inner]}], "more": ""}))
    # README silent: a page inside a page is not a statement. Every element accounted for either way
    if record.status == "stored":
        assert record.statements["read"] in (1, 2), record.statements


# ---------------------------------------------------------------------------------------------------
# Statements recognised without a config (README: any .json/.jsonl whose records hold actor, verb, object)
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["deep-first.jsonl", "nan.jsonl", "bom.jsonl", "broken-then-good.jsonl", "mixed.json", "huge.jsonl"]
)
def test_recognition_without_a_config_on_hostile_first_records(world, name):
    good = json.dumps(stmt("completed", who=1))
    contents = {
        "deep-first.jsonl": "[" * 100_000 + "]" * 100_000 + "\n" + good + "\n",
        "nan.jsonl": good.replace('"timestamp"', '"x": NaN, "timestamp"') + "\n" + good + "\n",
        "bom.jsonl": "\ufeff" + good + "\n",
        "broken-then-good.jsonl": '{"actor": {"mbox": "mailto:' + LEARNER + '@example.org"}, "verb":\n' + good + "\n",
        "mixed.json": json.dumps([stmt("completed", who=1), {"source_record_id": "R1", "programme": VALUE}]),
        "huge.jsonl": HUGE + "\n" + good + "\n",
    }
    record = _one(world, name, contents[name], source="auto", secrets=("7777777777",))
    # settled either way; when read as statements, every one is counted
    if record.status == "stored" and record.statements is not None:
        assert record.statements["read"] >= 1


# ---------------------------------------------------------------------------------------------------
# Deep nesting
# ---------------------------------------------------------------------------------------------------
DEPTH = 100_000


def test_deeply_nested_whole_document(world):
    record = _one(world, "deep.json", "[" * DEPTH + "]" * DEPTH)
    if record.status == "stored":
        assert record.statements["read"] <= 1 and record.statements["used"] == 0


def test_deeply_nested_page(world):
    record = _one(world, "deep.json", '{"statements": ' + "[" * DEPTH + "]" * DEPTH + ', "more": ""}')
    if record.status == "stored":
        assert record.statements["used"] == 0


def test_deeply_nested_object_document(world):
    record = _one(world, "deep.json", '{"a":' * DEPTH + "1" + "}" * DEPTH)
    if record.status == "stored":
        assert record.statements["used"] == 0


def _deep_statement(depth: int) -> str:
    s = json.dumps(stmt("completed", who=2, result={"extensions": {"https://x/e": "@"}}))
    return s.replace('"@"', '{"a":' * depth + '"valsecret"' + "}" * depth)


def test_a_deeply_nested_statement_in_json_lines_is_quarantined_and_the_rest_goes_on(world):
    # README: a JSON Lines line is quarantined and the rest of the file goes on. Silent on valid JSON nested
    # too deep to parse: demanding, the same (the line is quarantined, the others are used)
    record = _case(world, _deep_statement(DEPTH))
    _quarantined(world, record, {"json_line_malformed", "xapi_statement_not_object"})


def test_a_deeply_nested_statement_in_an_array(world):
    doc = "[" + json.dumps(stmt("attended", who="ctl")) + "," + _deep_statement(DEPTH) + "]"
    record = _one(world, "deep.json", doc)
    if record.status == "stored":  # or rejected with a reason (a JSON array is parsed whole)
        assert record.statements["read"] == 2 and record.statements["quarantined"] == 1


def test_moderate_nesting_in_extensions_is_fine(world):
    record = _case(world, _deep_statement(50))
    _used(world, record)


# ---------------------------------------------------------------------------------------------------
# Voiding
# ---------------------------------------------------------------------------------------------------
def void(target_id, sid=None, **extra) -> dict:
    s = stmt("voided", who=9, when="2024-03-09T00:00:00Z") | {"object": {"objectType": "StatementRef", "id": target_id}}
    if sid is not None:
        s["id"] = sid
    s.update(extra)
    return s


def test_voiding_a_voiding_statement_does_not_revive_its_target(world):
    target = passed(who=2, id="a-1<script>valsecret")
    v1 = void("a-1<script>valsecret", "v-1\nvalsecret")
    v2 = void("V-1\nVALSECRET", "v-2")  # ids are compared without case (README)
    record = _one(world, "export.jsonl", jsonl(stmt("attended", who="ctl"), target, v1, v2))
    # README: a statement that voids another, or is voided by one, is ignored; so all three are
    assert record.statements == {"read": 4, "used": 1, "ignored": 3, "quarantined": 0}
    assert record.rows_stored == 1


def test_a_statement_voiding_itself(world):
    record = _one(world, "export.jsonl", jsonl(stmt("attended", who="ctl"), void("valsecret-1", "valsecret-1")))
    assert record.statements == {"read": 2, "used": 1, "ignored": 1, "quarantined": 0}


def test_ten_thousand_voiding_statements_for_missing_ids(world):
    lines = [void(f"missing-valsecret-{i}", f"v-{i}") for i in range(10_000)]
    record = _one(world, "export.jsonl", jsonl(stmt("attended", who="ctl"), *lines))
    assert record.statements == {"read": 10_001, "used": 1, "ignored": 10_000, "quarantined": 0}
    assert (record.rows_read, record.rows_stored) == (1, 1)


def test_a_broken_voiding_statement_voids_nothing_and_a_voided_quarantined_statement_stays_quarantined(world):
    target = passed(who=2, id="t-1")
    broken_void = void("t-1", "bv") | {"timestamp": "valsecret"}
    contradiction = stmt("passed", who=3, id="c-1", result={"success": False})
    record = _one(
        world, "export.jsonl", jsonl(stmt("attended", who="ctl"), target, broken_void, contradiction, void("c-1", "vc"))
    )
    assert record.statements == {"read": 5, "used": 2, "ignored": 1, "quarantined": 2}
    assert _at(world, record, 2)[0] == "used"
    _quarantined(world, record, {"xapi_timestamp_invalid"}, position=3)
    _quarantined(world, record, {"xapi_passed_but_unsuccessful"}, position=4)


@pytest.mark.parametrize(
    "obj",
    [
        {"objectType": "StatementRef", "id": 42},
        {"objectType": "StatementRef"},
        {"objectType": "StatementRef", "id": ["a-1"]},
        "a-1",
        {"id": {"id": "a-1"}},
    ],
    ids=repr,
)
def test_voiding_statements_whose_target_is_of_the_wrong_type(world, obj):
    s = void("x") | {"object": obj}
    record = _one(world, "export.jsonl", jsonl(passed(who=2, id="a-1"), s))
    # README silent: demanding, the target is voided only by its own id; the odd voider is ignored or
    # quarantined, never a crash, and a statement id given as a list/object voids nothing
    assert record.status == "stored" and record.statements["read"] == 2
    assert _at(world, record, 1)[0] == "used"


def test_ids_of_the_wrong_type_on_the_voided_statement(world):
    record = _one(
        world, "export.jsonl", jsonl(passed(who=2, id=["a-1"]), passed(who=3, id={"x": 1}), void(["a-1"], "v-1"))
    )
    assert record.status == "stored" and record.statements["read"] == 3


# ---------------------------------------------------------------------------------------------------
# File names in the run report; a config that maps a verb to no status
# ---------------------------------------------------------------------------------------------------
def test_hostile_file_names_are_escaped_in_the_run_report(world):
    from txpipe.outputs.reports import run_report_markdown

    names = ["a|b <script>x<.jsonl", "[x](javascript:alert(1)).jsonl", "c\nd\x1b[31m.jsonl", "e\u202egnp.jsonl"]
    for name in names:
        world.write(name, jsonl(stmt("attended", who=1)))
    records, messages = world.ingest()
    for record in records.values():
        _check(world, record, messages)
    markdown = run_report_markdown(list(records.values()), kept_build_result())
    section = markdown.split("## xAPI statements", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| lrs |")]
    assert len(rows) == len(records), section  # one table row per export: no name broke out of its row
    for line in rows:
        assert line.count("|") - line.count("\\|") == 7, line  # source, file, read, used, ignored, quarantined
    for raw in ("<script>", "\x1b", "\u202e", "](javascript:"):
        assert raw not in markdown, f"{raw!r} unescaped in the run report"


def test_a_config_that_maps_a_verb_to_no_status_is_a_rejection(world):
    (world.settings.sources_dir / "lrs.toml").write_text(
        CONFIG.replace("[defaults]", '[xapi.verbs]\n"https://example.org/verbs/won" = "winner"\n[defaults]')
    )
    record = _one(world, "export.jsonl", jsonl(stmt("attended", who=1)))
    assert record.status == "rejected" and "verbs" in record.reason, record.reason


# ---------------------------------------------------------------------------------------------------
# Rosters
# ---------------------------------------------------------------------------------------------------
def _roster_export(w: World) -> None:
    w.write(
        "export.jsonl",
        jsonl(
            stmt("attended", who=1, context={}),
            stmt("attended", who=2, context={})
            | {"actor": {"account": {"homePage": "https://lms.example.org", "name": f"{LEARNER}, j"}}},
        ),
        source="ros",
    )


def _roster_record(w: World, **check):
    records, messages = w.ingest()
    assert set(records) == {"export.jsonl"}, set(records)  # the roster is never a delivery
    record = records["export.jsonl"]
    _check(w, record, messages, **check)
    return record


def _nations(w: World, record) -> list:
    return [r["nation"] for r in w.rows("participation", record)]


@pytest.mark.parametrize("encoding_bom,newline", [(False, "\r\n"), (True, "\n"), (True, "\r\n")])
def test_roster_with_bom_crlf_and_quoted_fields(world, encoding_bom, newline):
    text = newline.join(
        ["learner,nation", f'"mailto:{LEARNER}.1@example.org","MDA"', f'"https://lms.example.org|{LEARNER}, j",UKR', ""]
    )
    world.write("roster.csv", ("\ufeff" if encoding_bom else "") + text, source="ros")
    _roster_export(world)
    record = _roster_record(world)
    assert record.status == "stored", record.reason
    assert sorted(_nations(world, record)) == ["MDA", "UKR"]


def test_a_roster_identifier_that_looks_like_a_formula_is_just_an_identifier(world):
    learner = "=cmd|' /C calc'!A0"
    world.write("roster.csv", f'learner,nation\n"{learner}",GEO\n', source="ros")
    world.write(
        "export.jsonl",
        jsonl(
            stmt("attended", who=1, context={}) | {"actor": {"account": {"homePage": "=cmd", "name": "' /C calc'!A0"}}}
        ),
        source="ros",
    )
    record = _roster_record(world, learners=("calc'!a0", "/c calc"))
    assert record.status == "stored", record.reason
    assert _nations(world, record) == ["GEO"]


def test_a_roster_that_is_a_symlink_inside_the_folder_is_not_followed(world):
    world.write("real.txt", f"learner,nation\nmailto:{LEARNER}.1@example.org,MDA\n", source="ros")
    os.symlink(world.landing / "ros" / "real.txt", world.landing / "ros" / "roster.csv")
    _roster_export(world)
    records, messages = world.ingest()
    record = records["export.jsonl"]
    _check(world, record, messages)
    # README: a link is never followed; a configured roster that is unreadable rejects the export
    assert record.status == "rejected" and "roster" in record.reason


def test_a_roster_that_is_a_folder(world):
    (world.landing / "ros" / "roster.csv").mkdir(parents=True)
    (world.landing / "ros" / "roster.csv" / "inner.csv").write_text(
        f"learner,nation\nmailto:{LEARNER}.1@example.org,MDA\n"
    )
    _roster_export(world)
    records, messages = world.ingest()
    record = records["export.jsonl"]
    _check(world, record, messages)
    assert record.status == "rejected" and "roster" in record.reason


def test_a_roster_that_is_a_fifo_is_never_opened(world):
    (world.landing / "ros").mkdir(parents=True)
    fifo = world.landing / "ros" / "roster.csv"
    os.mkfifo(fifo)
    _roster_export(world)
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = world.ingest()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)
    hung = worker.is_alive()
    if hung:  # unblock the reader so the test process can go on, then fail
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(30)
    assert not hung, "ingest blocked opening a FIFO roster"
    assert "error" not in outcome, repr(outcome.get("error"))
    records, messages = outcome["result"]
    record = records["export.jsonl"]
    _check(world, record, messages)
    assert record.status == "rejected" and "roster" in record.reason


def test_a_roster_that_is_a_socket_is_never_opened(world):
    import socket

    (world.landing / "ros").mkdir(parents=True)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(world.landing / "ros" / "roster.csv"))
        _roster_export(world)
        record = _roster_record(world)
    finally:
        server.close()
    assert record.status == "rejected" and "roster" in record.reason


def test_a_roster_that_is_a_device_is_never_opened(world):
    # a character device that never ends (/dev/zero's numbers): README, a device is never opened. Run in a
    # subprocess with an address-space limit and a timeout, so a reader that opens it cannot take the machine
    def prepare(landing: Path) -> None:
        (landing / "ros").mkdir(parents=True)
        os.mknod(landing / "ros" / "roster.csv", 0o644 | __import__("stat").S_IFCHR, os.makedev(1, 5))
        (landing / "ros" / "export.jsonl").write_text(jsonl(stmt("attended", who=1, context={})))

    try:
        prepare_check = world.tmp / "probe"
        os.mknod(prepare_check, 0o644 | __import__("stat").S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("cannot make a device node here")
    records, _before, _after = _measured(world, prepare, timeout=60, address_space=3 << 30)
    [record] = records
    assert record["status"] == "rejected" and "roster" in record["reason"], record


@pytest.mark.parametrize("where", ["../outside.csv", "ABS", "../../outside.csv", "sub/../../outside.csv"])
def test_a_roster_path_outside_the_source_folder_is_never_read(world, where):
    outside = world.tmp / "landing" / "outside.csv"  # beside the source folder, inside the landing root
    outside.write_text(f"learner,nation\nmailto:{LEARNER}.1@example.org,MDA\n", encoding="utf-8")
    (world.tmp / "outside.csv").write_text(f"learner,nation\nmailto:{LEARNER}.1@example.org,MDA\n", encoding="utf-8")
    path = str(outside) if where == "ABS" else where
    (world.settings.sources_dir / "ros.toml").write_text(ROSTER_CONFIG.replace('"roster.csv"', json.dumps(path)))
    _roster_export(world)
    records, messages = world.ingest()
    # README: the roster is a CSV *in the source's landing folder*; nothing outside it is read. Demanding:
    # the export (or the config) is rejected with a reason, and no nation comes from the outside file
    assert "export.jsonl" in records or not records
    for record in records.values():
        _check(world, record, messages)
        assert "MDA" not in _nations(world, record)
        assert record.status == "rejected", "a roster outside the source folder was read"


def test_a_roster_that_is_not_utf8(world):
    world.write(
        "roster.csv", b"learner,nation\nmailto:" + LEARNER.encode() + b".1@example.org,M\xff\xfeDA\n", source="ros"
    )
    _roster_export(world)
    record = _roster_record(world)
    assert record.status == "rejected" and "roster" in record.reason


def test_roster_rows_of_the_wrong_shape(world):
    world.write(
        "roster.csv",
        f'learner,nation\nmailto:{LEARNER}.1@example.org,MDA,extra,{VALUE}\n"unterminated {VALUE}\n',
        source="ros",
    )
    _roster_export(world)
    record = _roster_record(world)
    # README: unreadable rejects; silent on extra fields: either way settled and nothing quoted
    assert record.status in ("stored", "rejected")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"learner,nation\n", id="header-only"),
        pytest.param(b"learner,nation\nmailto:" + LEARNER.encode() + b".1@example.org,MDA\x00\n", id="nul"),
        pytest.param(
            b"learner,nation\nmailto:" + LEARNER.encode() + b".1@example.org," + b"M" * 1_000_001 + b"\n",
            id="field-over-the-limit",
        ),
        pytest.param(
            b"learner,learner,nation\nmailto:" + LEARNER.encode() + b".1@example.org,x,MDA\n", id="learner-twice"
        ),
        pytest.param(b"\xff\xfel\x00e\x00a\x00", id="utf-16"),
    ],
)
def test_rosters_of_odd_bytes(world, content):
    world.write("roster.csv", content, source="ros")
    _roster_export(world)
    record = _roster_record(world)
    # README: an unreadable roster rejects the export with the reason; silent on the rest: settled either way,
    # nothing quoted (checked), and no nation taken from a roster it could not read whole
    if record.status == "stored":
        assert set(_nations(world, record)) <= {"MDA", None}


def test_a_roster_that_is_a_dangling_symlink(world):
    (world.landing / "ros").mkdir(parents=True)
    os.symlink(world.tmp / "nowhere.csv", world.landing / "ros" / "roster.csv")
    _roster_export(world)
    record = _roster_record(world)
    assert record.status == "rejected" and "roster" in record.reason


def test_roster_nation_with_markup_is_judged_not_echoed(world):
    world.write(
        "roster.csv", f"learner,nation\nmailto:{LEARNER}.1@example.org,<script>{VALUE}</script>\n", source="ros"
    )
    world.write("export.jsonl", jsonl(stmt("attended", who=1, context={})), source="ros")
    record = _roster_record(world)
    assert record.status == "stored", record.reason
    assert record.quarantine_reasons == {"nation_unknown": 1}


# ---------------------------------------------------------------------------------------------------
# Memory-heavy cases, each in a subprocess that reports its peak RSS
# ---------------------------------------------------------------------------------------------------
MIB = 1 << 20
_SUB = textwrap.dedent("""
    import dataclasses, json, os, sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from tests.conftest import ingest_all
    from txpipe.settings import Settings

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    settings = Settings.from_env()
    warm, big = Path(sys.argv[1]), Path(sys.argv[2])
    ingest_all(settings, warm, run_id="warm")            # imports, GX and the suite loaded once
    before = hwm()
    records = ingest_all(settings, big, run_id="big")
    print(json.dumps({{"before": before, "after": hwm(),
                      "records": [dataclasses.asdict(r) for r in records]}}, default=str))
""")


def _measured(
    world: World, prepare, timeout: int = 240, address_space: int | None = None
) -> tuple[list[dict], int, int]:
    warm = world.tmp / "warm"
    (warm / "lrs").mkdir(parents=True)
    (warm / "lrs" / "warm.jsonl").write_text(jsonl(stmt("attended", who="warm")))
    prepare(world.landing)
    script = world.tmp / "measure.py"
    script.write_text(_SUB.format(repo=str(REPO_ROOT)))
    env = {**os.environ}

    def limit() -> None:
        if address_space is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    try:
        proc = subprocess.run(
            [sys.executable, str(script), str(warm), str(world.landing)],
            env=env,
            capture_output=True,
            timeout=timeout,
            cwd=REPO_ROOT,
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the ingest did not end within {timeout} s (killed)")
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-3000:]
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    messages = proc.stderr.decode("utf-8", "replace")[-200_000:]
    for secret in (LEARNER, VALUE):
        assert secret not in messages.lower()
    return out["records"], out["before"], out["after"]


PEAK_BUDGET = 512 * MIB  # "a few hundred MiB" over the process after a warm-up ingest


def test_a_50_mb_single_line_in_json_lines(world):
    def prepare(landing: Path) -> None:
        (landing / "lrs").mkdir(parents=True)
        with open(landing / "lrs" / "export.jsonl", "w", encoding="utf-8") as out:
            out.write(json.dumps(stmt("attended", who="ctl")) + "\n")
            # not JSON: a field of no closing quote, 50 MB long
            out.write('{"actor": {"mbox": "mailto:' + LEARNER + '@example.org"}, "verb": "' + "v" * (50 * MIB) + "\n")
            out.write(json.dumps(stmt("attended", who=3)) + "\n")

    [record], before, after = _measured(world, prepare)
    print(
        f"50 MB broken line: peak {after / MIB:.0f} MiB (+{(after - before) / MIB:.0f}); {record['status']} "
        f"{record['statements']} {record['reason']}"
    )
    assert after - before < PEAK_BUDGET, f"peak RSS grew {(after - before) / MIB:.0f} MiB on one 50 MB line"
    assert record["reason"] is None or (VALUE not in record["reason"] and LEARNER not in record["reason"])
    st = record["statements"]
    assert record["status"] in ("stored", "rejected")
    if record["status"] == "stored":  # the line quarantined as malformed (or over the field limit), the rest used
        assert st == {"read": 3, "used": 2, "ignored": 0, "quarantined": 1}, st
    else:
        assert "line 2" in record["reason"] or "TXPIPE_MAX" in record["reason"], record["reason"]


def test_a_50_mb_single_line_of_many_small_values(world):
    # valid JSON, no field over the limit: a statement whose extension holds 5 million short strings
    def prepare(landing: Path) -> None:
        (landing / "lrs").mkdir(parents=True)
        s = json.dumps(stmt("completed", who=2, result={"extensions": {"https://x/e": "@"}}))
        head, tail = s.split('"@"')
        with open(landing / "lrs" / "export.jsonl", "w", encoding="utf-8") as out:
            out.write(json.dumps(stmt("attended", who="ctl")) + "\n")
            out.write(head + "[" + ",".join(['"valsecret"'] * (5 * MIB)) + "]" + tail + "\n")

    [record], before, after = _measured(world, prepare)
    grown = (after - before) / MIB
    print(
        f"50 MB statement: peak {after / MIB:.0f} MiB (+{grown:.0f}); {record['status']} {record['statements']} "
        f"{record['reason']}"
    )
    assert after - before < PEAK_BUDGET, f"peak RSS grew {grown:.0f} MiB on one 50 MB statement"
    assert record["status"] in ("stored", "rejected")
    if record["status"] == "stored":
        assert record["statements"]["read"] == 2


def test_a_roster_of_64_mib_and_one_byte(world):
    def prepare(landing: Path) -> None:
        folder = landing / "ros"
        folder.mkdir(parents=True)
        with open(folder / "roster.csv", "w", encoding="utf-8", newline="") as out:
            out.write("learner,nation\n")
            out.write(f"mailto:{LEARNER}.1@example.org,MDA\n")
            written = out.tell()
            line = "mailto:filler-{:09d}@example.org,GEO\n"
            i = 0
            while written + len(line.format(i)) <= 64 * MIB:
                written += out.write(line.format(i))
                i += 1
            out.write("x" * (64 * MIB + 1 - written))  # a last learner with no nation, to 64 MiB + 1 byte
        assert (folder / "roster.csv").stat().st_size == 64 * MIB + 1
        (folder / "export.jsonl").write_text(jsonl(stmt("attended", who=1, context={})))

    records, before, after = _measured(world, prepare)
    [record] = records
    print(
        f"64 MiB + 1 roster: peak {after / MIB:.0f} MiB (+{(after - before) / MIB:.0f}); {record['status']} "
        f"{record['statements']} {record['reason']}"
    )
    assert after - before < PEAK_BUDGET, f"peak RSS grew {(after - before) / MIB:.0f} MiB reading a 64 MiB roster"
    # README silent on a roster's size: read it (bounded) or reject the export; never a crash. Demanding, a
    # rejection for size says, as README "Limits" does for a delivered file, the size found
    assert record["status"] in ("stored", "rejected")
    if record["status"] == "rejected":
        reason = record["reason"]
        assert "roster" in reason and LEARNER not in reason
        assert any(size in reason for size in ("67108865", "67,108,865")), f"no size found in {reason!r}"


# ---------------------------------------------------------------------------------------------------
# One run of the real command line: markup in IRIs and names reaches the validation report escaped
# ---------------------------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.deep
def test_end_to_end_hostile_iris_and_names_are_escaped_everywhere(tmp_path):
    from tests.hostile_world import harness

    landing, sources = tmp_path / "landing", tmp_path / "sources"
    (landing / "lrs").mkdir(parents=True)
    sources.mkdir()
    (sources / "lrs.toml").write_text(CONFIG, encoding="utf-8")
    script = "<script>document.title='XSS-valsecret'</script>"
    img = "\"><img src=x onerror=alert('valsecret')>"
    iris = [
        f"https://example.org/{script}",
        f"https://example.org/a\n{script}",
        f"https://example.org/{img}",
        "https://example.org/\x1b[31m\u202evalsecret-esc",
    ]
    lines = [stmt("attended", who=i, target=iri) for i, iri in enumerate(iris)]
    titled = stmt("passed", who=10, result={"success": True, "score": {"scaled": 0.5}})
    titled["object"]["definition"] = {"name": {"en-US": script + "\x1b[2J" + img}}
    lines += [titled, stmt("completed", who=11, nation=script), stmt("completed", who=12, when=script)]
    (landing / "lrs" / "export.jsonl").write_text(jsonl(*lines), encoding="utf-8")
    (landing / "lrs" / "named\x1b[31m\u202e.jsonl").write_text(jsonl(stmt("attended", who=20)), encoding="utf-8")
    home = tmp_path / "home"
    env = harness.base_env(home, tmp_path / "prefect", sources)
    result = harness.run_txpipe(["run", "--landing", str(landing)], env, cwd=tmp_path)
    assert result.returncode == 0, result.tail()
    ledgers = {r["source_file"]: r for r in harness.ledger_records(home)}
    assert len(ledgers) == 2 and ledgers["named\x1b[31m\u202e.jsonl"]["status"] == "stored", list(ledgers)
    ledger = ledgers["export.jsonl"]
    st = ledger["statements"]
    assert st == {"read": 7, "used": 6, "ignored": 0, "quarantined": 1}, st
    assert ledger["rows_read"] == ledger["rows_stored"] + ledger["rows_quarantined"] + ledger["rows_duplicate"]
    assert ledger["quarantine_reasons"] == {
        "activity_code_malformed": 4,
        "nation_unknown": 1,
        "xapi_timestamp_invalid": 1,
    }, ledger["quarantine_reasons"]
    page = (home / "reports" / "validation.html").read_text("utf-8")
    for raw in ("<script>document.title", "<img src=x"):
        assert raw.lower() not in page.lower(), f"validation.html shows {raw!r} unescaped"
    dashboard = (home / "reports" / "dashboard.html").read_text("utf-8")
    for raw in ("<script>document.title", "<img src=x"):
        assert raw.lower() not in dashboard.lower(), f"dashboard.html holds {raw!r} unescaped"
    assert b"\x1b" not in result.stdout + result.stderr and "\u202e" not in result.text()
    snap = harness.snapshot(home, tmp_path / "prefect", result)
    # no learner anywhere; the planted values nowhere but the lake/warehouse data and the pages that show it
    assert [leak for c in harness.CATEGORIES for leak in snap.leaks(c, {"learner": LEARNER})] == []
    # (the pages may show data, escaped: checked above; messages, reports, logs and Prefect may not)
    places = ("output", "ledger", "run_reports", "other_home_files", "prefect_files", "prefect_db")
    assert [leak for c in places for leak in snap.leaks(c, {"value": VALUE, "xss": "XSS-"})] == []
    # README: text from a delivery (file names) is printed and logged with control characters escaped
    # (\x1b, \u202e). Silent on the HTML pages: demanding, a page shows a file name as the console does, not
    # with a raw ESC or a right-to-left override that turns the rest of the cell around
    for raw in ("\x1b", "\u202e"):
        assert raw not in page, f"validation.html shows a file name with a raw {raw!r}"
        assert raw not in dashboard, f"dashboard.html shows a raw {raw!r}"
