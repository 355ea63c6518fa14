"""Periods as dates (README "Adding a source", `[dates] period`): the grammar against an oracle written
from the README alone, and a period column through the whole ingest."""

from __future__ import annotations

import calendar
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from tests.hypothesis_profiles import examples
from tests.ingest.configured import ingest_with_config
from txpipe.ingest.periods import period_days
from txpipe.ingest.sources import SourceConfigError, parse_source_config

DIGITS = "0123456789"
FIRST, LAST = dt.date(1900, 1, 1), dt.date(2099, 12, 31)


def iso_weeks(year: int) -> int:
    """Weeks in an ISO year: 28 December is always in its last week."""
    return dt.date(year, 12, 28).isocalendar()[1]


def oracle(text: str) -> tuple[dt.date, dt.date] | None:
    """The README's grammar, read literally: YYYY, YYYY-MM, YYYY-Www, YYYY-Qq, YYYY-Hh; case and surrounding
    spaces ignored; years 1900-2099; W53 only in a year of 53 ISO weeks; every day of it within 1900-2099."""
    parts = text.strip().split("-")
    year_text = parts[0]
    if len(year_text) != 4 or any(c not in DIGITS for c in year_text) or len(parts) > 2:
        return None
    year = int(year_text)
    if not 1900 <= year <= 2099:
        return None
    days = (dt.date(year, 1, 1), dt.date(year, 12, 31)) if len(parts) == 1 else _part(year, parts[1])
    if days is None or days[0] < FIRST or days[1] > LAST:
        return None
    return days


def _part(year: int, part: str) -> tuple[dt.date, dt.date] | None:
    if len(part) == 2 and all(c in DIGITS for c in part) and 1 <= int(part) <= 12:
        month = int(part)
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    kind, number = part[:1].upper(), part[1:]
    if kind == "W" and len(number) == 2 and all(c in DIGITS for c in number):
        week = int(number)
        if 1 <= week <= iso_weeks(year):
            return dt.date.fromisocalendar(year, week, 1), dt.date.fromisocalendar(year, week, 7)
        return None
    months = {"Q": {"1": 1, "2": 4, "3": 7, "4": 10}, "H": {"1": 1, "2": 7}}.get(kind, {})
    if number in months:
        first = months[number]
        last = first + (2 if kind == "Q" else 5)
        return dt.date(year, first, 1), dt.date(year, last, calendar.monthrange(year, last)[1])
    return None


@st.composite
def valid_periods(draw) -> str:
    year = draw(st.integers(1900, 2099))
    kind = draw(st.sampled_from(["Y", "M", "W", "Q", "H"]))
    text = {
        "Y": f"{year}",
        "M": f"{year}-{draw(st.integers(1, 12)):02d}",
        "W": f"{year}-{draw(st.sampled_from('Ww'))}{draw(st.integers(1, iso_weeks(year))):02d}",
        "Q": f"{year}-{draw(st.sampled_from('Qq'))}{draw(st.integers(1, 4))}",
        "H": f"{year}-{draw(st.sampled_from('Hh'))}{draw(st.integers(1, 2))}",
    }[kind]
    spaces = st.text(alphabet=" \t", max_size=2)
    return draw(spaces) + text + draw(spaces)


@st.composite
def near_periods(draw) -> str:
    """Strings close to the grammar: a valid period damaged, or text of its characters."""
    if draw(st.booleans()):
        return draw(st.text(alphabet="0123456789-WwQqHhMY ²٣", max_size=10))
    text = draw(valid_periods())
    position = draw(st.integers(0, len(text)))
    damage = draw(st.sampled_from(["insert", "delete", "replace"]))
    char = draw(st.sampled_from([*DIGITS, *"-WQHMx ", "\u0663"]))
    if damage == "insert":
        return text[:position] + char + text[position:]
    if damage == "delete":
        return text[:position] + text[position + 1 :]
    return text[:position] + char + text[position + 1 :]


@st.composite
def period_like(draw) -> str:
    """The grammar's pieces put together at random, at and beyond the edges of their ranges."""
    year = draw(st.sampled_from([1899, 1900, 2020, 2026, 2099, 2100]) | st.integers(1000, 9999))
    year_text = str(year) if draw(st.integers(0, 9)) else draw(st.text(DIGITS, min_size=1, max_size=5))
    if not draw(st.integers(0, 3)):
        return year_text
    kind = draw(st.sampled_from(["", "", "W", "w", "Q", "q", "H", "h", "M", "Y"]))
    number = draw(st.integers(0, {"": 13, "W": 54, "Q": 5, "H": 3}.get(kind.upper(), 9)))
    width = draw(st.sampled_from([1, 2, 2, 3]))
    separator = draw(st.sampled_from(["-"] * 6 + ["", " ", "/"]))
    return f"{year_text}{separator}{kind}{number:0{width}d}"


def test_period_grammar_matches_the_oracle_at_every_edge():
    """Every combination of the pieces at and beyond their edges (some 10,000 strings), exhaustively."""
    years = ["1899", "1900", "2020", "2025", "2026", "2099", "2100", "999", "20250"]
    kinds = ["", "W", "w", "Q", "q", "H", "h", "M", "Y"]
    for year in years:
        assert period_days(year) == oracle(year), year
        for separator in ("-", "", " "):
            for kind in kinds:
                for number in range(0, 60):
                    for width in (1, 2, 3):
                        text = f"{year}{separator}{kind}{number:0{width}d}"
                        assert period_days(text) == oracle(text), text


@given(st.one_of(valid_periods(), near_periods(), period_like(), period_like(), st.text(max_size=12)))
@settings_(max_examples=examples(5000))
def test_period_grammar_matches_the_readme_oracle(text):
    assert period_days(text) == oracle(text)


@given(valid_periods())
@settings_(max_examples=examples(500))
def test_every_valid_period_has_its_first_and_last_day(text):
    days = period_days(text)
    assert days is not None and days[0] <= days[1]


@pytest.mark.parametrize(
    "text,first,last",
    [
        ("2025", "2025-01-01", "2025-12-31"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2025-W10", "2025-03-03", "2025-03-09"),
        ("2025-W01", "2024-12-30", "2025-01-05"),
        ("2020-W53", "2020-12-28", "2021-01-03"),
        ("2025-q1", "2025-01-01", "2025-03-31"),
        (" 2025-H2 ", "2025-07-01", "2025-12-31"),
        ("1900-W01", "1900-01-01", "1900-01-07"),
    ],
)
def test_period_examples(text, first, last):
    assert period_days(text) == (dt.date.fromisoformat(first), dt.date.fromisoformat(last))


@pytest.mark.parametrize(
    "text",
    ["2025-W53", "2099-W53", "2025-W00", "2025-13", "2025-3", "2025-Q5", "2025-H3", "1899", "2100", "25", "2025-",
     "2025-03-01", "2025Q1", "2025 Q1", "\uff12\uff10\uff12\uff15", "\u0662\u0660\u0662\u0665", ""],
)  # fmt: skip
def test_not_periods(text):
    assert period_days(text) is None


# --- the config ---------------------------------------------------------------------------------------


def test_dates_period_is_read_and_folded_like_a_header():
    config = parse_source_config("x", {"dates": {"period": "  Year "}})
    assert config.period == "year"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"dates": {"period": "Year"}, "columns": {"Start": "start_date"}}, "[dates] period"),
        ({"dates": {"period": "Year"}, "columns": {"Ende": "end_date"}}, "[dates] period"),
        ({"dates": {"period": "Year"}, "defaults": {"start_date": "2024-01-01"}}, "[dates] period"),
        ({"dates": {"period": "Year"}, "columns": {"YEAR": "nation"}}, "also maps"),
        ({"dates": {"period": "Year"}, "format": "xapi"}, "[dates] period"),
        ({"dates": {"period": 2025}}, "[dates] period must be a string"),
        ({"dates": {"perod": "Year"}}, "unknown key"),
        ({"dates": "Year"}, "[dates] must be a table"),
    ],
)
def test_a_period_config_that_cannot_work_is_refused(data, message):
    with pytest.raises(SourceConfigError) as caught:
        parse_source_config("x", data)
    assert message in str(caught.value)


# --- through the ingest -------------------------------------------------------------------------------

HEADER = "source_record_id,programme,activity_code,nation,status,headcount,Year\n"


def test_a_period_column_gives_both_dates(settings, landing, tmp_path, monkeypatch):
    lines = [
        "Y,training,N5-35,IRL,attended,4,2025",
        "M,training,N5-35,IRL,attended,4,2024-02",
        "W,training,N5-35,IRL,attended,4,2025-w10",
        "Q,training,N5-35,IRL,attended,4, 2025-Q1 ",
        "H,training,N5-35,IRL,attended,4,2025-H2",
        "BADQ,training,N5-35,IRL,attended,4,2025-Q5",
        "BADW,training,N5-35,IRL,attended,4,2025-W53",
        "DATE,training,N5-35,IRL,attended,4,2025-03-04",
        "BLANK,training,N5-35,IRL,attended,4,",
    ]
    [record], stored, quarantined = ingest_with_config(
        landing, tmp_path, monkeypatch, '[dates]\nperiod = "YEAR"\n', {"a.csv": HEADER + "\n".join(lines) + "\n"}
    )
    assert (record.status, record.rows_read, record.rows_stored, record.rows_quarantined) == ("stored", 9, 5, 4)
    days = {k: (v["start_date"].isoformat(), v["end_date"].isoformat()) for k, v in stored.items()}
    assert days == {
        "Y": ("2025-01-01", "2025-12-31"),
        "M": ("2024-02-01", "2024-02-29"),
        "W": ("2025-03-03", "2025-03-09"),
        "Q": ("2025-01-01", "2025-03-31"),
        "H": ("2025-07-01", "2025-12-31"),
    }
    reasons = {json.loads(q["record"])["source_record_id"]: q["reasons"] for q in quarantined}
    assert reasons == {
        "BADQ": ["period_invalid"],
        "BADW": ["period_invalid"],
        "DATE": ["period_invalid"],
        "BLANK": ["start_date_missing", "end_date_missing"],
    }
    bad = next(q for q in quarantined if json.loads(q["record"])["source_record_id"] == "BADQ")
    assert json.loads(bad["offending_values"]) == {"start_date": "2025-Q5"}  # the delivered period, to correct
    assert record.warnings == {}


def test_a_file_with_a_period_and_date_columns_is_refused(settings, landing, tmp_path, monkeypatch):
    text = HEADER.rstrip("\n") + ",start_date\nR1,training,N5-35,IRL,attended,4,2025,2025-01-01\n"
    [record], _, _ = ingest_with_config(landing, tmp_path, monkeypatch, '[dates]\nperiod = "Year"\n', {"a.csv": text})
    assert record.status == "rejected"
    assert "[dates] period" in record.reason and "column 7" in record.reason and "column 8" in record.reason


def test_a_file_without_the_period_column_is_rejected_naming_it(settings, landing, tmp_path, monkeypatch):
    text = (
        "source_record_id,programme,activity_code,nation,status,headcount,Jahr\nR1,training,N5-35,IRL,attended,4,2025\n"
    )
    [record], _, _ = ingest_with_config(landing, tmp_path, monkeypatch, '[dates]\nperiod = "Year"\n', {"a.csv": text})
    assert record.status == "rejected"
    assert "missing required column(s) start_date, end_date" in record.reason
    assert "[dates] period names 'year'" in record.reason and "2025" not in record.reason


def test_a_period_as_a_json_number_is_read_as_written(settings, landing, tmp_path, monkeypatch):
    base = {"programme": "training", "activity_code": "N5-35", "nation": "IRL", "status": "attended", "headcount": 4}
    lines = [{"source_record_id": "N", **base, "Year": 2025}, {"source_record_id": "Q", **base, "Year": "2025-q3"}]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    config = '[dates]\nperiod = "Year"\n'
    [record], stored, _ = ingest_with_config(landing, tmp_path, monkeypatch, config, {"a.jsonl": text})
    assert record.rows_stored == 2
    assert (stored["N"]["start_date"].isoformat(), stored["N"]["end_date"].isoformat()) == ("2025-01-01", "2025-12-31")
    assert (stored["Q"]["start_date"].isoformat(), stored["Q"]["end_date"].isoformat()) == ("2025-07-01", "2025-09-30")
