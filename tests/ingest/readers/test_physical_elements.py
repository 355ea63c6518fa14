"""Issue 23: a JSON array's elements and an XLSX sheet's rows are counted from what the file holds, apart
from the code that builds records, and each is attributed to the header, a blank or a record handed on;
a file whose units do not add up is rejected (the reason quoting no value) instead of losing rows."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.styles import PatternFill

from tests.conftest import VALID_ROW, ingest_all, row
from tests.hypothesis_profiles import examples
from tests.ingest.readers.test_excel_hostile import HEADER, MAIN, data_row, parts, write
from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery
from txpipe.ingest.readers import lines as lines_module
from txpipe.ingest.sources import SourceConfig

KNOWN = SourceConfig(name="t").is_known_header
SECRET = "SECRET-VALUE"
FILL = PatternFill("solid", fgColor="FFFF00")


def _physical(path):
    """The reader's physical counts once its batches are read, and the records it handed on."""
    delivered = read_delivery(path, ReadOptions(is_known_header=KNOWN))
    records = sum(len(b.frame) + len(b.issues) for b in delivered.batches)
    physical = delivered.physical
    assert physical is not None, "the reader records no physical counts"
    return (physical.unit, physical.read, physical.header, physical.blank, physical.rows, physical.records), records


def _rejection(path) -> str:
    with pytest.raises(UnreadableFile) as caught:
        _physical(path)
    reason = str(caught.value)
    assert SECRET not in reason
    return reason


# JSON arrays: unit "elements"

ELEMENTS = [
    {"source_record_id": "A", "note": 'a, [b] {c} "d" \\ \\" ,] é'},  # a row (brackets and quotes in a string)
    {},  # blank: an object without a value is not a record
    {"nation": None, "status": "  "},  # blank too
    "text",  # quarantined: json_record_not_object
    [1, 2, {"x": [3, ","]}],  # quarantined
    None,  # quarantined
    {"source_record_id": "B", "NATION": "GEO", "nation": "ARM"},  # quarantined: duplicate_key
    {"source_record_id": "C", "nested": {"a": [1, {"b": "},{"}], "c": []}},  # a row
    {"source_record_id": "D\u0000"},  # quarantined: nul_character
]


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_every_element_of_a_json_array_is_attributed(tmp_path, indent, ascii_only):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(ELEMENTS, indent=indent, ensure_ascii=ascii_only) + "\n", encoding="utf-8")
    physical, records = _physical(path)
    assert physical == ("elements", 9, 0, 2, 7, 7)
    assert records == 7


@pytest.mark.parametrize("text", ["[]", " [ \n\t] \n", "\ufeff[]"])
def test_an_empty_array_holds_no_element(tmp_path, text):
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    assert _physical(path) == (("elements", 0, 0, 0, 0, 0), 0)


def test_a_counter_that_disagrees_with_the_parser_rejects_the_array(tmp_path, monkeypatch):
    from txpipe.ingest.readers import json as json_reader

    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"source_record_id": SECRET}, {}, SECRET]), encoding="utf-8")
    counted = lines_module.count_elements
    monkeypatch.setattr(json_reader, "count_elements", lambda text: counted(text) + 1)
    reason = _rejection(path)
    assert reason.startswith("the file's 4 elements could not all be accounted for (header 0, blank 1, in records 2)")


@pytest.mark.parametrize("where", ["parser", "frame"])
def test_an_element_the_reader_loses_rejects_the_array(tmp_path, monkeypatch, where):
    """An element the parser or the frame builder drops (a bug) is found missing, not taken for a blank."""
    from txpipe.ingest.readers import json as json_reader

    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"source_record_id": SECRET}, {"source_record_id": "B"}]), encoding="utf-8")
    parsed, dropped = json_reader._array_records, json_reader.drop_blank_rows

    def losing_one(text):
        records, issues, names = parsed(text)
        return records[:-1], issues, names

    if where == "parser":
        monkeypatch.setattr(json_reader, "_array_records", losing_one)
    else:
        monkeypatch.setattr(json_reader, "drop_blank_rows", lambda frame: dropped(frame).iloc[1:])
    assert "2 elements could not all be accounted for (header 0, blank 0, in records 1)" in _rejection(path)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ('["a,b", "[", "]", "{", "}"]', 5),
        ('["\\"", "\\\\", "\\\\\\"", "\\\\\\\\"]', 4),
        ('[{"a": "\\\\"}, {"b": "\\",]"}]', 2),
        ("[[[[]]], [{}], 1e5, -1, true, false, null]", 7),
        ('[ "x" ]', 1),
        ("[{}]", 1),
        (r'["\/", "\u005c\"", "\u0022,", "a\\\/]", "\b\f\n\r\t\u00bf", "\\\"\\"]', 6),  # every escape
        ('[\n  {"a": [1, 2, 3]},\r\n  {"b": {"c": [",", "]"]}}\n]\n', 2),
    ],
)
def test_the_element_counter_skips_strings_and_nested_values(text, count):
    assert len(json.loads(text)) == count
    assert lines_module.count_elements(text) == count
    with mock.patch.object(lines_module, "_ELEMENT_SLICE", 3):  # slices that cut strings and brackets
        assert lines_module.count_elements(text) == count


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
_ALPHABET = st.sampled_from('"\\[]{},:/ubf \n\t\x08\x0c\x01é😀')  # what escapes and what follows them
_VALUES = st.recursive(
    st.one_of(_SCALARS, st.text(_ALPHABET, max_size=8)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(_ALPHABET, max_size=4), inner, max_size=4),
    max_leaves=20,
)


@hypothesis_settings(max_examples=examples(200))
@given(st.lists(_VALUES, max_size=8), st.booleans(), st.sampled_from([None, 1]), st.sampled_from([3, 1 << 22]))
def test_the_element_counter_agrees_with_the_parser(elements, ascii_only, indent, slice_size):
    text = json.dumps(elements, ensure_ascii=ascii_only, indent=indent)
    with mock.patch.object(lines_module, "_ELEMENT_SLICE", slice_size):
        assert lines_module.count_elements(text) == len(elements)


def test_the_ledger_records_the_elements_of_an_array(settings, landing):
    (landing / "jadl").mkdir()
    elements = [row(source_record_id="A"), {}, row(source_record_id="B"), "text"]
    (landing / "jadl" / "r.json").write_text(json.dumps(elements, indent=1), encoding="utf-8")
    [record] = ingest_all(settings, landing)
    assert record.physical == {"unit": "elements", "read": 4, "header": 0, "blank": 1, "rows": 3, "records": 3}
    assert record.balanced and (record.rows_read, record.rows_stored, record.rows_quarantined) == (3, 2, 1)


def test_an_array_whose_elements_do_not_add_up_is_rejected_in_the_ledger(settings, landing, monkeypatch):
    from txpipe.ingest.readers import json as json_reader

    (landing / "jadl").mkdir()
    (landing / "jadl" / "r.json").write_text(json.dumps([row(source_record_id=SECRET)]), encoding="utf-8")
    monkeypatch.setattr(json_reader, "count_elements", lambda text: 2)
    [record] = ingest_all(settings, landing)
    assert (record.status, record.rows_stored, record.files) == ("rejected", 0, [])
    assert "2 elements could not all be accounted for" in record.reason and SECRET not in record.reason


# XLSX: unit "sheet_rows"


def _roster_book() -> Workbook:
    """A hidden first sheet with a header, then the roster: a banner, a styled empty row, a banner of
    spaces, the header (row 4), and rows, blank rows, formatted empty rows, error cells and a gap."""
    book = Workbook()
    old = book.active
    old.title, old.sheet_state = "Old", "hidden"
    old.append(["source_record_id", "nation", "start_date", "status"])
    for n in range(3):
        old.append([f"OLD{n}", "GEO", "2024-03-04", "passed"])
    sheet = book.create_sheet("Roster")
    sheet.append(["NATO School Oberammergau - roster"])  # row 1: a banner (header)
    sheet.row_dimensions[2].height = 30  # row 2: a styled empty <row> (blank)
    sheet["A3"] = "   "  # row 3: a banner of spaces (blank)
    sheet.append(["source_record_id", "nation", "start_date", "status"])  # row 4: the header
    sheet.append(["A1", "GEO", "2024-03-04", "passed"])  # row 5
    sheet.append([None, None, None, None])  # row 6: an empty <row> (blank)
    for column in "ABCD":
        sheet[f"{column}7"].fill = FILL  # row 7: formatted empty cells (blank)
    sheet.append([])  # row 8: no <row> at all (a gap in the row numbers, not a unit)
    sheet.append(["A2", "#N/A", "2024-03-05", "passed"])  # row 9: a row with an error cell
    sheet.append(["#REF!"])  # row 10: only an error cell (blank)
    sheet["F11"] = SECRET  # row 11: a value only past the header's columns (blank)
    sheet.append(["A3", "ARM", "2024-03-06", "failed"])  # row 12
    for column in "AB":
        sheet[f"{column}13"].fill = FILL  # row 13: formatted empty cells after the last record (blank)
    sheet.row_dimensions[14].height = 30  # row 14: a styled empty <row> (blank)
    book.active = 1
    return book


def test_every_row_of_the_sheet_is_attributed(tmp_path):
    path = tmp_path / "r.xlsx"
    _roster_book().save(path)
    # 13 <row> elements (row 8 is not in the XML): the banner and the header, 8 blank, 3 rows
    assert _physical(path) == (("sheet_rows", 13, 2, 8, 3, 3), 3)


def test_rows_parsed_after_the_header_is_known_are_attributed(tmp_path):
    """A sheet bigger than one decompressed chunk: its later rows are parsed with the header's width
    known, so a row with a value only past it ends empty in the sheet, not in the reader."""
    book = Workbook()
    sheet = book.active
    sheet.append(["source_record_id", "nation", "status"])
    for n in range(3000):
        sheet.append([f"R{n}", "GEO", "passed"] if n % 100 else [None, None, None])
    sheet["H3002"] = SECRET
    sheet["A3003"].fill = FILL
    path = tmp_path / "r.xlsx"
    book.save(path)
    assert _physical(path) == (("sheet_rows", 3003, 1, 32, 2970, 2970), 2970)


def test_a_row_nested_in_a_row_is_not_lost_silently(tmp_path):
    """A <row> inside a row: the row builder starts the inner row and the outer row's values are gone
    (the file was read with one row fewer); the elements counted show it and the file is rejected."""
    nested = f'<row r="2"><c r="A2" t="inlineStr"><is><t>{SECRET}</t></is></c>{data_row(3)}</row>{data_row(4)}'
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER}{nested}</sheetData></worksheet>'
    path = write(tmp_path / "r.xlsx", parts(sheet))
    reason = _rejection(path)
    assert reason.startswith("the file's 4 sheet rows could not all be accounted for (header 1, blank 0, in records 2)")


def test_a_row_the_reader_loses_rejects_the_workbook(tmp_path, monkeypatch):
    from txpipe.ingest.readers import excel

    path = tmp_path / "r.xlsx"
    _roster_book().save(path)
    kept = excel.drop_blank_rows
    monkeypatch.setattr(excel, "drop_blank_rows", lambda frame: kept(frame).iloc[1:])
    assert "13 sheet rows could not all be accounted for" in _rejection(path)


def test_the_ledger_records_the_sheet_rows(settings, landing):
    book = Workbook()
    sheet = book.active
    sheet.append(["Roster"])
    sheet.append(list(VALID_ROW))
    sheet.append(list(row(source_record_id="A").values()))
    sheet.append([None] * len(VALID_ROW))
    sheet.append(list(row(source_record_id="B").values()))
    sheet["A6"].fill = FILL
    (landing / "jadl").mkdir()
    book.save(landing / "jadl" / "r.xlsx")
    [record] = ingest_all(settings, landing)
    assert record.physical == {"unit": "sheet_rows", "read": 6, "header": 2, "blank": 2, "rows": 2, "records": 2}
    assert record.balanced and record.rows_stored == 2
