"""Issue 23: numbers only in the README's decimal notation, judged on their exact value.

A score is ``[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?`` in ASCII digits, from 0 to 100 exactly
(``100.0000000000000000000001`` is over 100, though a float holds it as 100); a headcount is an integer
>= 1 in ASCII digits. Python's ``float()`` reads far more (``1_0``, Arabic-Indic or fullwidth digits, `` 5``, ``nan``):
none of it is a number here. Through the ingest, and as a property against an oracle written from the
README's rule.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

import pandas as pd
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import ingest_all, read_parquet_rows, row, write_csv
from tests.hypothesis_profiles import examples
from txpipe.ingest.readers import STRING
from txpipe.ingest.sources import SourceConfig
from txpipe.ingest.values import CANONICAL_COLUMNS, normalize
from txpipe.settings import REPO_ROOT

INVALID_SCORES = [
    "1_0",  # float() reads 10
    "1_00",  # 100
    "100.0000000000000000000001",  # a float holds 100
    "100.0000001",  # was stored as 100 (six significant digits)
    "\u0661\u0660",  # Arabic-Indic digits: 10 to float()
    "\uff11\uff10",  # fullwidth digits
    "0x10",
    "inf",
    "nan",
    "1 0",
    "5.",  # digits then a point need digits after it
    "1e",
    "1e999999999999999999999",
    "-1e-999999999999999999999",  # below 0, however little
    "-0.5",
]
VALID_SCORES = {  # delivered -> stored
    "1e2": 100.0,
    ".5": 0.5,
    "88.50": 88.5,
    "+5": 5.0,
    "-0": 0.0,
    "0.00001": 0.00001,  # was quarantined: formatted 1e-05, which the rule's pattern refuses
    "99.99999999999999999999": 100.0,  # under 100 exactly: valid, stored as the nearest double
    "1e-999999999999999999999": 0.0,
}
INVALID_HEADCOUNTS = ["1_0", "0x10", "\uff11\uff10", "\u0661\u0660", "1e1", "+2", "10.00", "0", "01", "\u0661"]


def ingest_quarantine(settings, landing, rows) -> tuple[dict[int, list[str]], dict[str, dict]]:
    """Quarantined reasons by the row's place in ``rows``, and stored rows by source_record_id."""
    write_csv(landing / "adv" / "n.csv", rows)
    ingest_all(settings, landing)
    quarantined = {q["source_row"] - 2: q["reasons"] for q in read_parquet_rows(settings.quarantine_dir)}
    return quarantined, {s["source_record_id"]: s for s in read_parquet_rows(settings.participation_dir)}


def test_scores_through_the_ingest(settings, landing):
    rows = [row(source_record_id=f"S{n}", score=s) for n, s in enumerate(INVALID_SCORES)]
    rows += [row(source_record_id=f"V{n}", score=s) for n, s in enumerate(VALID_SCORES)]
    quarantined, stored = ingest_quarantine(settings, landing, rows)
    assert {INVALID_SCORES[n]: quarantined.get(n) for n in range(len(INVALID_SCORES))} == {
        score: ["score_invalid"] for score in INVALID_SCORES
    }
    assert {score: stored[f"V{n}"]["score"] for n, score in enumerate(VALID_SCORES)} == VALID_SCORES


def test_headcounts_through_the_ingest(settings, landing):
    """Already so before issue 23 (the rule's pattern takes ASCII digits only): kept so."""
    rows = [row(source_record_id=f"H{n}", headcount=h, participant_ref="") for n, h in enumerate(INVALID_HEADCOUNTS)]
    rows.append(row(source_record_id="OK", headcount="12.0", participant_ref=""))
    quarantined, stored = ingest_quarantine(settings, landing, rows)
    assert {INVALID_HEADCOUNTS[n]: quarantined.get(n) for n in range(len(INVALID_HEADCOUNTS))} == {
        headcount: ["headcount_invalid"] for headcount in INVALID_HEADCOUNTS
    }
    assert stored["OK"]["headcount"] == 12


def test_a_json_number_a_float_cannot_hold_is_judged_as_written(settings, landing):
    records = [row(source_record_id=f"J{n}") for n in range(4)]
    text = json.dumps(records)
    for literal in ["100.0000000000000000000001", "1E400", "1e2", "0.00001"]:
        text = text.replace('"score": "88.5"', f'"score": {literal}', 1)  # record J{n}
    (landing / "adv").mkdir()
    (landing / "adv" / "j.json").write_text(text)
    ingest_all(settings, landing)
    assert sorted((q["source_row"], q["reasons"]) for q in read_parquet_rows(settings.quarantine_dir)) == [
        (1, ["score_invalid"]),  # before: read as 100.0 and stored
        (2, ["score_invalid"]),
    ]
    stored = {s["source_record_id"]: s["score"] for s in read_parquet_rows(settings.participation_dir)}
    assert stored == {"J2": 100.0, "J3": 0.00001}


# --- the property ---------------------------------------------------------------------------------

DIGITS = "0123456789"


def oracle_score(text: str) -> Fraction | None:
    """The README's rule, read literally: the exact value of a score in its notation if it is from 0 to
    100, else None. (Huge exponents are judged by magnitude, so that Fraction stays cheap.)"""
    rest = text[1:] if text[:1] in ("+", "-") else text
    negative = text[:1] == "-"
    mantissa, _, exponent = rest.replace("E", "e").partition("e")
    if "e" in rest.lower() and not exponent:
        return None
    exponent_digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
    whole, point, fraction = mantissa.partition(".")
    if any(c not in DIGITS for c in whole + fraction + exponent_digits) or "e" in exponent:
        return None
    if (point and not fraction) or not (whole or fraction) or (exponent and not exponent_digits):
        return None
    value = Fraction(int(whole or "0") * 10 ** len(fraction) + int(fraction or "0"), 10 ** len(fraction))
    power = int(exponent or "0")
    if not value:
        pass  # zero, whatever its exponent
    elif power > 1000:
        return None  # at least 10**(1000 - its 48 digits at most): over 100
    elif power < -1000:
        value = Fraction(1, 10**1000)  # under 10**-900: only its sign matters
    else:
        value *= Fraction(10) ** power
    value = -value if negative else value
    return value if 0 <= value <= 100 else None


def _suite_pattern(rule: str) -> re.Pattern[str]:
    suite = json.loads((REPO_ROOT / "expectations" / "participation.json").read_text(encoding="utf-8"))
    [kwargs] = [e["kwargs"] for e in suite["expectations"] if e.get("meta", {}).get("rule") == rule]
    return re.compile(kwargs["regex"])


SCORE_RULE = _suite_pattern("score_invalid")
_digits = st.text(DIGITS, max_size=24)
_numbers = st.builds(
    lambda sign, whole, point, fraction, exponent: f"{sign}{whole}{point}{fraction}{exponent}",
    st.sampled_from(["", "", "+", "-"]),
    st.one_of(_digits, st.sampled_from(["0", "99", "100", "000100"])),
    st.sampled_from(["", ".", "."]),
    st.one_of(_digits, st.sampled_from(["0", "00000000000000000000001", "9999999999999999999"])),
    st.one_of(
        st.just(""),
        st.builds(
            "".join, st.tuples(st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.text(DIGITS, max_size=6))
        ),
    ),
)
_near_bounds = st.builds(  # where a float and the exact value part: just over 100, just under 0
    lambda whole, fraction, exponent: whole + fraction + exponent,
    st.sampled_from(["100", "99", "0", "-0", "+100", "1000", ""]),
    st.sampled_from(["", ".0", ".00000000000000000000001", ".99999999999999999999999", ".5"]),
    st.sampled_from(["", "e0", "E-0", "e+00", "e-1", "e1", "e-400", "e400"]),
)
JUNK = ["_", " ", "\u0661", "\uff11", "x", "inf", "nan", "\u00a0", ",", "\u066b", "e", ".", "+", "0x"]
_spoilt = st.builds(
    lambda text, junk, at: text[: at % (len(text) + 1)] + junk + text[at % (len(text) + 1) :],
    _numbers,
    st.sampled_from(JUNK),
    st.integers(0, 64),
)


@hypothesis_settings(max_examples=examples(100))
@given(st.lists(st.one_of(_numbers, _near_bounds, _spoilt, st.text(max_size=12)), min_size=1, max_size=40))
def test_scores_are_judged_as_the_readme_says(reference, delivered):
    """normalize, then the suite's score_invalid pattern, agree with the oracle on every value a reader
    can deliver (trimmed, not blank); a valid score is stored as the double nearest its exact value."""
    values = [v.strip() for v in delivered if v.strip()]
    if not values:
        return
    frame = pd.DataFrame({c: pd.array([None] * len(values), dtype=STRING) for c in CANONICAL_COLUMNS})
    frame["score"] = pd.array(values, dtype=STRING)
    canonical = normalize(frame, SourceConfig(name="t"), reference)["score"].tolist()
    for value, text in zip(values, canonical, strict=True):
        exact = oracle_score(value)
        assert (SCORE_RULE.search(text) is not None) == (exact is not None), (value, text)
        if exact is not None:
            assert float(text) == float(exact), (value, text)
