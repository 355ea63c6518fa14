"""The XLSX reader on real workbooks written with openpyxl."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest
from openpyxl import Workbook

from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery
from txpipe.ingest.sources import SourceConfig

KNOWN = SourceConfig(name="t").is_known_header


def read_all(path, **options):
    delivered = read_delivery(path, ReadOptions(is_known_header=KNOWN, **options))
    frames = [b.frame for b in delivered.batches]
    return delivered.headers, [(int(i), r) for f in frames for i, r in zip(f.index, f.to_dict("records"), strict=False)]


def roster(path, banner_rows: int, sheets=("Roster",)):
    book = Workbook()
    book.remove(book.active)
    for title in sheets:
        sheet = book.create_sheet(title)
        for n in range(banner_rows):
            sheet.append([f"NATO School Oberammergau - banner line {n + 1}"] if n % 2 == 0 else [])
        sheet.append(["source_record_id", "nation", "start_date", "headcount", "score", "status"])
        sheet.append(["A1", "GEO", dt.datetime(2024, 3, 4), 1, 88.5, "passed"])
        sheet.append([None, None, None, None, None, None])
        sheet.append(["A2", "Republic of Moldova", dt.date(2024, 3, 5), 12.0, None, "attended"])
        sheet.append([])
        sheet.append(["A3", " georgia ", "2024-03-06", "3", "90", "failed"])
    book.save(path)
    return path


@pytest.mark.parametrize("banner_rows", [0, 1, 4, 10])
def test_header_found_below_banner_rows_and_blank_rows_skipped(tmp_path, banner_rows):
    """It finds the header below up to 10 banner rows; source_row is the Excel row number."""
    path = roster(tmp_path / "r.xlsx", banner_rows)
    headers, rows = read_all(path)
    assert headers == ["source_record_id", "nation", "start_date", "headcount", "score", "status"]
    header_row = banner_rows + 1
    assert [i for i, _ in rows] == [header_row + 1, header_row + 3, header_row + 5]
    assert rows[0][1] == {
        "source_record_id": "A1",
        "nation": "GEO",
        "start_date": "2024-03-04",
        "headcount": "1",
        "score": "88.5",
        "status": "passed",
    }
    assert rows[1][1]["start_date"] == "2024-03-05" and rows[1][1]["headcount"] == "12"
    assert rows[2][1]["nation"] == "georgia"


def test_header_below_eleven_rows_is_not_searched(tmp_path):
    path = roster(tmp_path / "r.xlsx", 11)
    with pytest.raises(UnreadableFile, match="no header row found"):
        read_all(path)


def test_first_sheet_with_a_header_is_read_or_the_named_one(tmp_path):
    book = Workbook()
    book.active.title = "Cover"
    book.active.append(["This workbook holds the roster on the next sheet"])
    data = book.create_sheet("Data")
    data.append(["source_record_id", "nation", "status"])
    data.append(["B1", "ARM", "attended"])
    other = book.create_sheet("Other")
    other.append(["source_record_id", "nation", "status"])
    other.append(["C1", "AUT", "attended"])
    path = tmp_path / "multi.xlsx"
    book.save(path)
    assert read_all(path)[1][0][1]["source_record_id"] == "B1"
    assert read_all(path, sheet="Other")[1][0][1]["source_record_id"] == "C1"
    with pytest.raises(UnreadableFile, match="no sheet named 'Missing'"):
        read_all(path, sheet="Missing")


def test_not_a_workbook_is_rejected(tmp_path):
    fake = tmp_path / "fake.xlsx"
    fake.write_text("source_record_id,nation\n1,GEO\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="not a readable XLSX"):
        read_all(fake)
    other_zip = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("hello.txt", "not a spreadsheet")
    with pytest.raises(UnreadableFile, match="not a readable XLSX"):
        read_all(other_zip)
