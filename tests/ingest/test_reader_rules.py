"""Issue 23: choices the readers made silently, now rules (README "What happens to each row").

- a JSON record that gives a key twice (case and surrounding spaces ignored) is quarantined as
  ``duplicate_key``; an xAPI statement that does (exactly, at any depth) as ``xapi_duplicate_key``;
- a record holding a NUL character in any value is quarantined as ``nul_character``;
- hidden and veryHidden sheets are read only when the source config names them;
- spreadsheet error cells are blanks, counted in the ledger's warnings (``spreadsheet_error_cell``).

Each through the reader and end to end through the ingest (ledger and lake).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from openpyxl import Workbook

from tests.conftest import VALID_ROW, ingest_all, read_parquet_rows, row
from tests.ingest.readers.test_excel_hostile import parts, sheet_xml, write
from txpipe.ingest.readers import RawBatch, ReadOptions, RowIssue, UnreadableFile, read_delivery
from txpipe.ingest.readers.text_rules import quarantine_nul
from txpipe.ingest.sources import SourceConfig
from txpipe.settings import Settings

KNOWN = SourceConfig(name="t").is_known_header
SECRETS = ("ARM", "GEO", "P-0001", "SECRET")


def read_all(path, **options):
    delivered = read_delivery(path, ReadOptions(is_known_header=KNOWN, **options))
    batches = list(delivered.batches)
    rows = [(int(i), r) for b in batches for i, r in zip(b.frame.index, b.frame.to_dict("records"), strict=True)]
    return delivered, rows, [i for b in batches for i in b.issues]


def assert_quotes_nothing(issues: list[RowIssue]) -> None:
    for issue in issues:
        assert not any(secret in issue.message for secret in SECRETS), issue.message


def outcome(settings: Settings, landing):
    [record] = ingest_all(settings, landing)
    quarantined = sorted(read_parquet_rows(settings.quarantine_dir), key=lambda q: q["source_row"])
    stored = read_parquet_rows(settings.participation_dir)
    return record, [(q["source_row"], q["reasons"]) for q in quarantined], sorted(s["source_record_id"] for s in stored)


# --- duplicate keys ---------------------------------------------------------------------------------


def test_a_json_record_with_a_repeated_key_is_quarantined_and_the_rest_goes_on(tmp_path):
    path = tmp_path / "d.jsonl"
    lines = [
        '{"source_record_id": "1", "nation": "GEO", "NATION": "ARM"}',  # the adversary's record
        '{"source_record_id": "2", " Nation ": "GEO", "nation": "ARM"}',  # trimmed, as headers are
        '{"source_record_id": "3", "a@b.example": "GEO", "A@B.example": "ARM"}',  # not a column name
        '{"source_record_id": "4", "nation": "GEO", "extra": {"x": 1, "X": 2}}',  # nested: a value
        '{"source_record_id": "5", "nation": "GEO", "nation": "GEO"}',  # exactly the same key, same value
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    delivered, rows, issues = read_all(path)
    assert [i for i, _ in rows] == [4]
    assert rows[0][1]["extra"] == '{"X": 2, "x": 1}'
    assert [(i.source_row, i.rule) for i in issues] == [(n, "duplicate_key") for n in (1, 2, 3, 5)]
    assert "'NATION'" in issues[0].message and "keys 2 and 3" in issues[0].message
    assert "'nation'" in issues[1].message
    assert "keys 2 and 3 of the record name the same column" in issues[2].message and "@" not in issues[2].message
    assert_quotes_nothing(issues)
    assert delivered.headers == ["source_record_id", "nation", "a@b.example", "extra"]


def test_a_json_array_element_with_a_repeated_key_is_quarantined(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[{"source_record_id": "1", "nation": "GEO", "NATION": "ARM"}, {"source_record_id": "2"}]')
    _, rows, issues = read_all(path)
    assert [i for i, _ in rows] == [2]
    assert [(i.source_row, i.rule) for i in issues] == [(1, "duplicate_key")]
    assert issues[0].message.startswith("element 1: ")


def test_a_repeated_key_is_quarantined_end_to_end(settings, landing):
    body = json.dumps(row(source_record_id="D1"))[:-1] + ', "NATION": "ARM"}'
    (landing / "adv").mkdir()
    (landing / "adv" / "d.jsonl").write_text(body + "\n" + json.dumps(row(source_record_id="D2")) + "\n")
    record, quarantined, stored = outcome(settings, landing)
    assert (record.status, record.rows_read, record.rows_stored, record.rows_quarantined) == ("stored", 2, 1, 1)
    assert quarantined == [(1, ["duplicate_key"])]
    assert stored == ["D2"]  # before: D1 was stored with nation ARM, the last key winning


XAPI = "http://adlnet.gov/expapi/verbs/"
COURSE = "https://example.org/courses/gender-awareness"


def statement(who: int, verb: str = "completed", **extra) -> dict:
    return {
        "actor": {"mbox": f"mailto:learner{who}@example.org"},
        "verb": {"id": XAPI + verb},
        "timestamp": "2024-03-04T10:00:00Z",
        "object": {"id": COURSE},
        **extra,
    }


@pytest.fixture
def xapi_settings(tmp_path, monkeypatch) -> Settings:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "lrs.toml").write_text(
        f'format = "xapi"\n[xapi]\nnation = "GEO"\n[xapi.activities]\n"{COURSE}" = "ADL-169"\n', encoding="utf-8"
    )
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(sources))
    return Settings.from_env()


def test_an_xapi_statement_with_a_repeated_key_is_quarantined_and_counted(xapi_settings, landing):
    """Keys compared exactly, at any depth; a repeat voids nothing; read = used + ignored + quarantined."""
    lines = [
        json.dumps(statement(1)),
        json.dumps(statement(2))[:-1] + ', "verb": {"id": "' + XAPI + 'passed"}}',  # the verb given twice
        json.dumps(statement(3)).replace('"mbox":', '"mbox": "mailto:other@example.org", "mbox":'),  # nested
        json.dumps(statement(4) | {"Actor": {"mbox": "mailto:x@example.org"}}),  # another key in xAPI: used
        json.dumps(statement(1, "voided", id="v1") | {"object": {"objectType": "StatementRef", "id": "s5"}})[:-1]
        + ', "id": "v1"}',  # a voiding statement that repeats a key voids nothing
        json.dumps(statement(5, id="s5")),
    ]
    (landing / "lrs").mkdir()
    (landing / "lrs" / "export.jsonl").write_text("\n".join(lines) + "\n")
    record, quarantined, _ = outcome(xapi_settings, landing)
    assert record.status == "stored", record.reason
    assert record.statements == {"read": 6, "used": 3, "ignored": 0, "quarantined": 3}
    assert quarantined == [(2, ["xapi_duplicate_key"]), (3, ["xapi_duplicate_key"]), (5, ["xapi_duplicate_key"])]
    assert record.rows_stored == 3  # learners 1, 4 and 5 (s5 is not voided)


def test_a_page_that_repeats_its_statements_key_rejects_the_export(xapi_settings, landing):
    page = '{"statements": [' + json.dumps(statement(1)) + '], "statements": [' + json.dumps(statement(2)) + "]}"
    (landing / "lrs").mkdir()
    (landing / "lrs" / "page.json").write_text(page)
    record, _, _ = outcome(xapi_settings, landing)
    assert record.status == "rejected" and "page of statements" in record.reason, record.reason


# --- NUL ----------------------------------------------------------------------------------------------


def test_quarantine_nul_names_the_columns_only_and_costs_nothing_without_one():
    frame = pd.DataFrame(
        {"nation": ["GEO", "G\x00EO", None], "a@b.example": ["x\x00", "y\x00", "z\x00"], "status": ["passed"] * 3},
        dtype="string",
    )
    frame.index = pd.Index([2, 3, 5], name="source_row")
    clean = RawBatch(frame.replace("\x00", "", regex=True))
    assert quarantine_nul(clean) is clean
    batch = quarantine_nul(RawBatch(frame, [RowIssue(4, "csv_field_count", "row 4: ...")]))
    assert batch.frame.empty
    assert [(i.source_row, i.rule) for i in batch.issues] == [
        (4, "csv_field_count"),
        (2, "nul_character"),
        (3, "nul_character"),
        (5, "nul_character"),
    ]
    assert [i.message for i in batch.issues[1:]] == [
        "row 2: a NUL character in column(s) (column 2)",
        "row 3: a NUL character in column(s) nation, (column 2)",
        "row 5: a NUL character in column(s) (column 2)",
    ]


def test_a_nul_in_a_json_value_quarantines_the_record(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text(
        json.dumps({"source_record_id": "1", "activity_title": "Course\x00SECRET"})
        + "\n"
        + json.dumps({"source_record_id": "2", "activity_title": "Course"})
        + "\n"
    )
    _, rows, issues = read_all(path)
    assert [i for i, _ in rows] == [2]
    assert [(i.source_row, i.rule, i.message) for i in issues] == [
        (1, "nul_character", "row 1: a NUL character in column(s) activity_title")
    ]


@pytest.mark.parametrize("row_number", [1, 2, 30])
def test_a_nul_in_a_csv_row_quarantines_that_row_not_the_file(tmp_path, row_number):
    """A stray NUL in a data row near the top of a CSV rejected the whole file as binary; now only a NUL
    on the first line, many NULs or other control bytes with them make a file binary."""
    lines = [",".join(VALID_ROW)] + [",".join(row(source_record_id=f"R{i}").values()) for i in range(1, 41)]
    lines[row_number] = lines[row_number].replace("education", "educ\x00ation", 1)
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    delivered = read_delivery(path, ReadOptions())
    batches = list(delivered.batches)
    assert [(i.source_row, i.rule) for b in batches for i in b.issues] == [(row_number + 1, "nul_character")]
    assert sum(len(b.frame) for b in batches) == 39
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"id\x00,nation\n1,GEO\n")
    with pytest.raises(UnreadableFile, match="not text"):
        list(read_delivery(binary, ReadOptions()).batches)


def test_a_nul_in_an_xlsx_cell_is_its_escape_x0000_and_quarantines_the_row(tmp_path):
    """XML cannot hold a NUL: a workbook writes it _x0000_ (ST_Xstring), in inline and shared strings;
    _x005F_x0000_ is the literal text _x0000_; _x000D_ a carriage return."""
    book = Workbook()
    sheet = book.active
    sheet.append(["source_record_id", "nation", "status", "activity_title"])
    sheet.append(["A2", "GEO", "passed", "Course_x0000_SECRET"])
    sheet.append(["A3", "GEO", "passed", "_x005F_x0000_ is literal"])
    sheet.append(["A4", "GEO", "passed", "two_x000D__x000A_lines"])
    book.save(tmp_path / "n.xlsx")
    _, rows, issues = read_all(tmp_path / "n.xlsx")
    assert [(i.source_row, i.rule, i.message) for i in issues] == [
        (2, "nul_character", "row 2: a NUL character in column(s) activity_title")
    ]
    assert [(i, r["activity_title"]) for i, r in rows] == [(3, "_x0000_ is literal"), (4, "two\r\nlines")]
    shared = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        "<si><t>G_x0000_EO</t></si></sst>"
    )
    rows_xml = '<row r="2"><c r="A2" t="inlineStr"><is><t>B2</t></is></c><c r="B2" t="s"><v>0</v></c></row>'
    path = write(tmp_path / "s.xlsx", parts(sheet_xml(rows_xml), shared=shared))
    _, rows, issues = read_all(path)
    assert rows == [] and [(i.source_row, i.rule) for i in issues] == [(2, "nul_character")]


def test_a_nul_is_quarantined_end_to_end(settings, landing):
    (landing / "adv").mkdir()
    lines = [json.dumps(row(source_record_id=n, activity_title=t)) for n, t in (("N1", "A\x00B"), ("N2", "AB"))]
    (landing / "adv" / "n.jsonl").write_text("\n".join(lines) + "\n")
    record, quarantined, stored = outcome(settings, landing)
    assert (record.rows_read, record.rows_stored, record.rows_quarantined) == (2, 1, 1)
    assert quarantined == [(1, ["nul_character"])] and stored == ["N2"]  # before: N1 stored with its NUL


# --- hidden sheets --------------------------------------------------------------------------------------


def workbook(path, sheets: dict[str, tuple[str, str]]):
    """A workbook of sheets (title -> (state, the source_record_id of its one row)), all with a header."""
    book = Workbook()
    book.remove(book.active)
    for title, (state, record) in sheets.items():
        sheet = book.create_sheet(title)
        sheet.sheet_state = state
        sheet.append(list(VALID_ROW))
        sheet.append(list(row(source_record_id=record).values()))
    book.save(path)
    return path


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_first_sheet_is_skipped_unless_named(tmp_path, state):
    path = workbook(tmp_path / "h.xlsx", {"Old": (state, "HIDDEN"), "Roster": ("visible", "VISIBLE")})
    _, rows, _ = read_all(path)
    assert [r["source_record_id"] for _, r in rows] == ["VISIBLE"]
    _, rows, _ = read_all(path, sheet="Old")
    assert [r["source_record_id"] for _, r in rows] == ["HIDDEN"]


def test_a_workbook_whose_only_headers_are_hidden_is_rejected_saying_so(tmp_path):
    path = tmp_path / "h.xlsx"
    book = Workbook()
    book.active.append(["a banner, no header"])
    for title, state in (("Old", "veryHidden"), ("Older", "hidden")):
        hidden = book.create_sheet(title)
        hidden.sheet_state = state
        hidden.append(list(VALID_ROW))
    book.save(path)
    with pytest.raises(UnreadableFile, match=r"only sheets with a header row are hidden \(sheet 'Old', the first"):
        read_all(path)
    book["Old"].delete_rows(1)  # no sheet with a header at all: as before
    book["Older"].delete_rows(1)
    book.save(path)
    with pytest.raises(UnreadableFile, match="no header row found"):
        read_all(path)


def test_a_hidden_sheet_is_skipped_end_to_end(settings, landing):
    (landing / "adv").mkdir()
    workbook(landing / "adv" / "h.xlsx", {"Old": ("hidden", "HIDDEN"), "Roster": ("visible", "VISIBLE")})
    record, _, stored = outcome(settings, landing)
    assert record.status == "stored" and stored == ["VISIBLE"]  # before: HIDDEN, the visible roster ignored


# --- error cells ----------------------------------------------------------------------------------------

ERROR_ROWS = (
    '<row r="2"><c r="A2" t="inlineStr"><is><t>E2</t></is></c><c r="B2" t="e"><v>#SPILL!</v></c>'
    '<c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'  # a formula's cached error
    '<row r="3"><c r="A3" t="inlineStr"><is><t>E3</t></is></c><c r="B3" t="e"><v>#GETTING_DATA</v></c>'
    '<c r="C3" t="inlineStr"><is><t>#N/A</t></is></c><c r="D3" t="e"><v>#CALC!</v></c></row>'  # text; beyond
)


def test_error_cells_are_blanks_counted_as_warnings(tmp_path):
    path = write(tmp_path / "e.xlsx", parts(sheet_xml(ERROR_ROWS)))
    delivered, rows, issues = read_all(path)
    assert rows == [
        (2, {"source_record_id": "E2", "nation": None, "status": None}),
        (3, {"source_record_id": "E3", "nation": None, "status": "#N/A"}),  # text that looks like one is text
    ]
    assert issues == [] and delivered.warnings == {"spreadsheet_error_cell": 3}  # D3 is beyond the header
    book = Workbook()
    book.active.append(["#REF!"])  # a banner row: not counted
    book.active.append(["source_record_id", "nation", "status"])
    for error in ("#N/A", "#REF!", "#DIV/0!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!"):
        book.active.append(["R", error, "passed"])
    book.save(tmp_path / "o.xlsx")
    delivered, rows, _ = read_all(tmp_path / "o.xlsx")
    assert {r["nation"] for _, r in rows} == {None} and delivered.warnings == {"spreadsheet_error_cell": 7}


def test_error_cells_end_to_end_are_blanks_and_ledger_warnings(settings, landing):
    """Three #N/A participant_refs made one participant; now each is missing, and the ledger counts them."""
    book = Workbook()
    book.active.append(list(VALID_ROW))
    for n in range(3):
        book.active.append(list(row(source_record_id=f"E{n}", participant_ref="#N/A").values()))
    book.active.append(list(row(source_record_id="OK").values()))
    (landing / "adv").mkdir()
    book.save(landing / "adv" / "e.xlsx")
    record, quarantined, stored = outcome(settings, landing)
    assert quarantined == [(n, ["participant_ref_missing"]) for n in (2, 3, 4)] and stored == ["OK"]
    assert record.warnings == {"spreadsheet_error_cell": 3}
