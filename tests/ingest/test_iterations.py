"""Canonical iteration ids (README "Iteration ids"): the grammar against an oracle that builds each spelling
from known parts, its application on a chunk's distinct pairs, the iteration_id_malformed expectation, and
the stored columns."""

from __future__ import annotations

import json
import string

import pandas as pd
import pyarrow as pa
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import ingest_all, read_parquet_rows, row, write_csv
from tests.hypothesis_profiles import examples
from txpipe.ingest.iteration_expectation import is_iteration_of
from txpipe.ingest.iterations import canonical_iteration, canonical_iterations
from txpipe.reference import load_reference
from txpipe.settings import REPO_ROOT, Settings

# --- the oracle: spellings made from known parts, written from the README's grammar ------------------

CATALOGUE = sorted(load_reference(REPO_ROOT / "data" / "reference").activity_codes)
SEPARATORS = " /_.-"
ASCII_UPPER = string.ascii_uppercase


@st.composite
def activity_codes(draw) -> str:
    """A code of the catalogue (E3-450, NDC-SC, ...) or one of the same shape: letters, digits, -, more."""
    if draw(st.booleans()):
        return draw(st.sampled_from(CATALOGUE))
    head = draw(st.text(ASCII_UPPER, min_size=1, max_size=4)) + draw(st.text(string.digits, max_size=2))
    return head + "-" + draw(st.text(ASCII_UPPER + string.digits, min_size=1, max_size=6))


def separator(draw) -> str:
    return draw(st.text(SEPARATORS, min_size=1, max_size=3))


def recase(draw, text: str) -> str:
    return "".join(c.lower() if draw(st.booleans()) else c for c in text)


@st.composite
def spellings(draw, code: str) -> tuple[str, str]:
    """(a spelling of an iteration of ``code``, the canonical id it must give): the letter and the year
    (two digits, or four from 1900 to 2099) in either order, with or without the code before them."""
    letter = draw(st.sampled_from(ASCII_UPPER))
    year = draw(st.integers(1900, 2099))
    written_year = str(year) if draw(st.booleans()) else f"{year % 100:02d}"
    parts = [letter, written_year] if draw(st.booleans()) else [written_year, letter]
    if draw(st.booleans()):
        parts = code.split("-") + parts
    text = parts[0]
    for part in parts[1:]:
        text += separator(draw) + part
    pad = draw(st.sampled_from(["", " ", "  ", "\t"]))
    return pad + recase(draw, text) + pad[::-1], f"{code}-{letter}-{year % 100:02d}"


BAD_SEPARATORS = [",", ":", "+", "|", "\\", "\u00a0", "\u2013", "\t"]  # not in the grammar
BREAKS = [
    "foreign_prefix",
    "year_out_of_range",
    "year_digits",
    "two_letters",
    "not_a_letter",
    "missing_part",
    "extra_part",
    "bad_separator",
    "no_separator",
    "edge_separator",
    "blank",
]


@st.composite
def garbage(draw, code: str) -> str:
    """A spelling the grammar must not recognise for ``code``, made by one known break."""
    kind = draw(st.sampled_from(BREAKS))
    letter, yy = draw(st.sampled_from(ASCII_UPPER)), f"{draw(st.integers(0, 99)):02d}"
    sep = separator(draw)
    if kind == "foreign_prefix":
        other = draw(activity_codes())
        assume(other.split("-") != code.split("-"))
        return recase(draw, f"{other}{sep}{letter}{sep}{yy}")
    if kind == "year_out_of_range":
        year = draw(st.integers(1000, 1899) | st.integers(2100, 9999))
        return f"{letter}{sep}{year}"
    if kind == "year_digits":
        digits = draw(st.sampled_from([1, 3, 5, 6]))
        return f"{draw(st.text(string.digits, min_size=digits, max_size=digits))}{sep}{letter}"
    if kind == "two_letters":
        return f"{code}{sep}{letter}{draw(st.sampled_from(ASCII_UPPER))}{sep}{yy}"
    if kind == "not_a_letter":
        return f"{draw(st.sampled_from(['1', '#', 'É', 'Ω', '*']))}{sep}{yy}"
    if kind == "missing_part":
        return draw(st.sampled_from([letter, yy, f"{code}{sep}{yy}", f"{code}{sep}{letter}", f"{letter}{sep}{letter}"]))
    if kind == "extra_part":
        return f"{letter}{sep}{yy}{sep}{draw(st.sampled_from([letter, yy, 'X1']))}"
    if kind == "bad_separator":
        return letter + draw(st.sampled_from(BAD_SEPARATORS)) + yy
    if kind == "no_separator":
        joined = code.replace("-", "")  # the code without its separator
        return draw(st.sampled_from([f"{letter}{yy}", f"{yy}{letter}", f"{joined}{sep}{letter}{sep}{yy}"]))
    if kind == "edge_separator":
        return draw(st.sampled_from([f"{sep}{letter}-{yy}", f"{letter}-{yy}{sep}"])).replace(" ", "_")
    return draw(st.sampled_from(["", " ", sep]))


@hsettings(max_examples=examples(1000))
@given(data=st.data())
def test_every_recognised_spelling_gives_the_canonical_id_of_its_parts(data):
    code = data.draw(activity_codes())
    spelling, expected = data.draw(spellings(code))
    assert canonical_iteration(code, spelling) == expected
    assert canonical_iteration(code, expected) == expected  # the canonical id is a spelling of itself
    assert is_iteration_of(pd.Series([code]), pd.Series([expected])).tolist() == [True]


@hsettings(max_examples=examples(1000))
@given(data=st.data())
def test_what_the_grammar_does_not_recognise_stays_unrecognised(data):
    code = data.draw(activity_codes())
    spelling = data.draw(garbage(code))
    assert canonical_iteration(code, spelling) is None
    assert is_iteration_of(pd.Series([code]), pd.Series([spelling])).tolist() == [False]


def test_the_grammar_by_example():
    assert [canonical_iteration("E3-450", s) for s in ("E3-450-A-25", "E3-450 A 2025", "E3-450/A/2025")] == [
        "E3-450-A-25"
    ] * 3
    assert canonical_iteration("E3-450", "A-25") == canonical_iteration("E3-450", "2025-A") == "E3-450-A-25"
    assert canonical_iteration("E3-450", "e3_450.a.1925") == "E3-450-A-25"  # 1925 and 2025 both give 25
    assert canonical_iteration("N5-35", "E3-450-A-25") is None  # another activity's iteration
    assert canonical_iteration("E3-450", "E3-A-25") is None  # a part of the code is not the code
    assert canonical_iteration(None, "A-25") is None and canonical_iteration("E3-450", None) is None


@hsettings(max_examples=examples(200))
@given(
    pairs=st.lists(
        st.tuples(
            st.none() | st.sampled_from(["E3-450", "N5-35", "Q-Q"]),
            st.none()
            | st.sampled_from(
                ["A-25", "2024 b", "E3-450/A/2025", "n5-35-b-24", "Q-Q-Z-99", "spring", "", "N5-35-B-24"]
            ),
        ),
        max_size=60,
    ),
    chunks=st.integers(1, 3),
)
def test_a_chunk_takes_each_pairs_canonical_id_or_keeps_its_iteration(pairs, chunks):
    """The Arrow application (once per distinct pair) gives every row what the rule gives its pair."""
    codes = pa.chunked_array([pa.array([c for c, _ in pairs][i::chunks], pa.string()) for i in range(chunks)])
    iterations = pa.chunked_array([pa.array([t for _, t in pairs][i::chunks], pa.string()) for i in range(chunks)])
    got = canonical_iterations(codes, iterations).to_pylist()
    order = [p for i in range(chunks) for p in pairs[i::chunks]]
    assert got == [canonical_iteration(c, t) or t for c, t in order]


# --- through an ingest -------------------------------------------------------------------------------


def stored(settings) -> dict:
    rows = read_parquet_rows(settings.participation_dir)
    return {r["source_record_id"]: (r["iteration_id"], r["iteration_id_delivered"], r["warnings"]) for r in rows}


def test_stored_rows_keep_the_delivered_spelling_beside_the_canonical_id(settings, landing):
    spellings_ = {"R1": "N5-35-B-24", "R2": " n5-35/b/2024 ", "R3": "b-24", "R4": "2024 B", "R5": "E3-450-A-25"}
    rows = [row(source_record_id=k, iteration_id=v) for k, v in spellings_.items()]
    write_csv(landing / "nso" / "a.csv", [*rows, row(source_record_id="R6", iteration_id="")])
    [record] = ingest_all(settings, landing)
    assert record.warnings.get("iteration_id_malformed") == 1
    assert stored(settings) == {
        "R1": ("N5-35-B-24", "N5-35-B-24", None),
        "R2": ("N5-35-B-24", "n5-35/b/2024", None),  # as delivered: the reader trims every value
        "R3": ("N5-35-B-24", "b-24", None),
        "R4": ("N5-35-B-24", "2024 B", None),
        "R5": ("E3-450-A-25", "E3-450-A-25", ["iteration_id_malformed"]),  # an iteration of another activity
        "R6": (None, None, None),
    }


def configured(tmp_path, monkeypatch, source: str, config: str) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / f"{source}.toml").write_text(config, encoding="utf-8")
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(sources))
    return Settings.from_env()


def test_aliases_come_first_and_a_default_is_the_spelling_a_blank_iteration_came_with(tmp_path, monkeypatch, landing):
    config = """[defaults]
iteration_id = "2024/a"
[aliases.iteration_id]
"spring intake" = "B 2024"
[aliases.activity_code]
"comprehensive" = "N5-35"
"""
    settings = configured(tmp_path, monkeypatch, "office", config)
    rows = [
        row(source_record_id="R1", iteration_id="Spring intake"),
        row(source_record_id="R2", iteration_id=""),
        row(source_record_id="R3", activity_code="Comprehensive", iteration_id="N5-35 C 24"),
    ]
    write_csv(landing / "office" / "a.csv", rows)
    [record] = ingest_all(settings, landing)
    assert record.rows_stored == 3 and not record.warnings.get("iteration_id_malformed")
    assert stored(settings) == {
        "R1": ("N5-35-B-24", "Spring intake", None),  # the spelling delivered, not the alias's
        "R2": ("N5-35-A-24", "2024/a", None),  # blank: the source's default is the spelling it came with
        "R3": ("N5-35-C-24", "N5-35 C 24", None),  # the prefix is the row's code after its own alias
    }


def test_an_lrs_export_with_a_default_iteration_stores_its_canonical_id(tmp_path, monkeypatch, landing):
    course = "https://example.org/courses/gender-awareness"
    config = f"""format = "xapi"
[xapi]
nation = "GEO"
[xapi.activities]
"{course}" = "ADL-169"
[defaults]
iteration_id = "2024 a"
"""
    settings = configured(tmp_path, monkeypatch, "lrs", config)
    statement = {
        "actor": {"mbox": "mailto:learner@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "timestamp": "2024-03-04T10:00:00Z",
        "object": {"id": course},
    }
    (landing / "lrs").mkdir()
    (landing / "lrs" / "export.json").write_text(json.dumps([statement]), encoding="utf-8")
    [record] = ingest_all(settings, landing)
    assert (record.status, record.rows_stored, record.warnings.get("iteration_id_malformed")) == ("stored", 1, None)
    [(iteration, delivered, warnings)] = stored(settings).values()
    assert (iteration, delivered) == ("ADL-169-A-24", "2024 a") and not warnings
