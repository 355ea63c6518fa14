"""Marts: every metric table as Parquet and CSV, CSV safe from formula injection."""

from __future__ import annotations

import csv
import tempfile
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import ingest_all, row, write_csv
from tests.hypothesis_profiles import examples
from txpipe.outputs.marts import export_marts, neutralise_formulas, write_csv_atomic
from txpipe.outputs.partner_export import export_partner_marts
from txpipe.text import spreadsheet_safe
from txpipe.warehouse import METRIC_TABLES
from txpipe.warehouse.publish import publish_warehouse


def test_neutralise_formulas_only_touches_risky_text():
    table = pa.table(
        {"t": ["=1+1", "+A", "-x", "@SUM(A1)", "\tx", "plain", None, "a=b"], "n": [-1, 2, 3, 4, 5, 6, 7, 8]}
    )
    out = neutralise_formulas(table)
    assert out["t"].to_pylist() == ["'=1+1", "'+A", "'-x", "'@SUM(A1)", "'\tx", "plain", None, "a=b"]
    assert out["n"].to_pylist() == table["n"].to_pylist()


def test_marts_are_exported_and_csv_cells_neutralised(settings, landing):
    write_csv(landing / "ndc" / "a.csv", [row(iteration_id='=HYPERLINK("http://example.invalid","x")')])
    [record] = ingest_all(settings, landing)
    assert record.warnings == {"iteration_id_malformed": 1}
    path, _ = publish_warehouse(settings)
    files = export_marts(path, settings.marts_dir)
    assert sorted(p.name for p in files) == sorted(f"{t}.{e}" for t in METRIC_TABLES for e in ("parquet", "csv"))
    csv_text = (settings.marts_dir / "metrics_fill_rate.csv").read_text()
    assert "'=HYPERLINK(" in csv_text and '"=HYPERLINK(' not in csv_text
    parquet = pq.read_table(settings.marts_dir / "metrics_fill_rate.parquet")
    assert any(v.startswith("=HYPERLINK(") for v in parquet["iteration_id"].to_pylist())  # Parquet keeps the value


# --- formula cells in every locale (issue 23) --------------------------------------------------------
# A spreadsheet may split a CSV on "," ";" or tab (Belgian, French and German defaults split on ";"),
# so a cell can begin after any of them inside a value, or after a line break. Values are drawn from
# what makes a formula: the delimiters, line breaks, quotes, the triggers, blanks and invisible
# characters, fullwidth, small, super- and subscript forms of the triggers, and plain letters and digits.
DANGEROUS = (
    ",;\t\r\n\"' \x0b\x1c\x85"
    + "=+-@"
    + "\ufeff\u200b\u200e\u2060\u00a0\u3000\u2007\u180e\u115f\u3164\u0301\u0338"
    + "\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\u207c\u208a\u2a75"
    + "aZ05"
)
TEXT = st.text(alphabet=DANGEROUS, max_size=12) | st.sampled_from(["x;=1+1;", "\ufeff=1", "\uff1d1", " \t=1"])
OWASP_STARTS = ("\t", "\r")


def _stripped(text: str) -> str:
    """``text`` without the invisible characters and blanks it begins with (categories Cf and Zs, whitespace)."""
    at = 0
    while at < len(text) and (text[at].isspace() or unicodedata.category(text[at]) in ("Cf", "Zs")):
        at += 1
    return text[at:]


def a_formula(cell: str) -> bool:
    """The oracle: a cell a spreadsheet would read as a formula (one that begins with the apostrophe is text)."""
    if cell.startswith(OWASP_STARTS):
        return True
    nfkc = unicodedata.normalize
    for form in (
        _stripped(nfkc("NFKC", cell)),
        nfkc("NFKC", _stripped(cell)),
        _stripped(nfkc("NFKC", _stripped(cell))),
    ):
        if form[:1] in ("=", "+", "-", "@"):
            return True
    return False


@hsettings(max_examples=examples(300), deadline=None)
@given(rows=st.lists(st.tuples(st.none() | TEXT, TEXT, TEXT), min_size=1, max_size=6))
def test_no_cell_is_a_formula_whichever_delimiter_a_spreadsheet_splits_on(rows):
    table = pa.table(
        {
            "first": [r[0] for r in rows],
            "second": [r[1] for r in rows],
            "count": list(range(len(rows))),
            "third": pa.array([r[2] for r in rows], pa.large_string()),
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        path = write_csv_atomic(table, Path(folder) / "metrics.csv")
        for delimiter in (",", ";", "\t"):
            with path.open(encoding="utf-8", newline="") as handle:
                cells = [cell for record in csv.reader(handle, delimiter=delimiter) for cell in record]
            formulas = [cell for cell in cells if a_formula(cell)]
            assert formulas == [], (delimiter, formulas, rows)
        with path.open(encoding="utf-8", newline="") as handle:
            records = list(csv.reader(handle))
    # read as it was written (split on ","), every value is back, with apostrophes added and nothing else
    for record, drawn in zip(records[1:], rows, strict=True):
        for cell, value in zip((record[0], record[1], record[3]), drawn, strict=True):
            assert cell.replace("'", "") == ("" if value is None else value).replace("'", "")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("x;=1+1;", "x;'=1+1;"),
        ("a\tb\t-2", "a\tb\t'-2"),
        ("line\n@SUM(A1)", "line\n'@SUM(A1)"),
        ("\ufeff=1", "'\ufeff=1"),
        ("\u200b\u200b+1", "'\u200b\u200b+1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("  \t=1", "  \t'=1"),
        ("N5-35-B-24", "N5-35-B-24"),
        ("Course, advanced", "Course, advanced"),
        ("'=1", "'=1"),
    ],
)
def test_the_dangerous_segment_start_gets_the_apostrophe(value, written):
    assert spreadsheet_safe(value) == written
    assert neutralise_formulas(pa.table({"t": [value], "n": [-5]})).to_pylist() == [{"t": written, "n": -5}]


def test_the_marts_and_partner_copies_hold_no_formula_cell_in_any_locale(settings, landing):
    """Issue 23: iteration id ``x;=1+1;`` was written as ``"X;=1+1;"``, a formula in a ";" locale."""
    ids = ["x;=1+1;", "\ufeff=1+1", "\uff1d1+1", "a\tb\t-2", "c\n@SUM(A1)", "  ;\u200b+1"]
    rows = [row(source_record_id=f"R{i}", iteration_id=v, participant_ref=f"P-{i}") for i, v in enumerate(ids)]
    write_csv(landing / "nso" / "a.csv", rows)
    [record] = ingest_all(settings, landing)
    assert record.rows_stored == len(ids)
    path, _ = publish_warehouse(settings)
    written = export_marts(path, settings.marts_dir) + export_partner_marts(settings, "GEO")
    csvs = [p for p in written if p.suffix == ".csv"]
    assert len(csvs) == len(METRIC_TABLES) + 5
    for csv_path in csvs:
        for delimiter in (",", ";", "\t"):
            with csv_path.open(encoding="utf-8", newline="") as handle:
                cells = [cell for record in csv.reader(handle, delimiter=delimiter) for cell in record]
            assert [c for c in cells if a_formula(c)] == [], (csv_path.name, delimiter)
    parquet = pq.read_table(settings.marts_dir / "metrics_fill_rate.parquet")
    assert "X;=1+1;" in parquet["iteration_id"].to_pylist()  # Parquet keeps the value (as normalised)
