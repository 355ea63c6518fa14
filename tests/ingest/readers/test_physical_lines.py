"""Issue 23: a CSV's (and JSON Lines') lines are counted from its bytes and each is attributed to the header, a blank or
a record; a reader that would swallow lines (a quote never closed, a header past a fixed buffer) rejects
the file with the line instead of losing rows while every identity holds."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import ingest_all, row, write_csv
from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery
from txpipe.settings import ReadLimits


def _csv_text(rows: list[dict], newline: str = "\n") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _lines_of(path, **options):
    delivered = read_delivery(path, ReadOptions(**options))
    records = sum(len(b.frame) + len(b.issues) for b in delivered.batches)
    return delivered.physical, records


def test_a_quote_never_closed_rejects_the_file_with_its_line(settings, landing):
    """The adversary's file: 2,000 rows, an opening quote on data row 5 never closed. It was stored with
    rows_read 5 (1,995 valid rows gone); now it is rejected, naming line 6, and nothing is stored."""
    rows = [row(source_record_id=f"R{i}") for i in range(2000)]
    lines = _csv_text(rows).splitlines(keepends=True)
    lines[5] = lines[5].replace(",education,", ',"education,', 1)  # data row 5 is physical line 6
    (landing / "jadl").mkdir()
    (landing / "jadl" / "roster.csv").write_text("".join(lines), encoding="utf-8")
    [record] = ingest_all(settings, landing)
    assert (record.status, record.rows_read, record.files) == ("rejected", 0, []), record
    assert "line 6" in record.reason and "never closed" in record.reason


@pytest.mark.parametrize("ending", ["\n", ""])
def test_a_quote_left_open_on_the_last_line_is_found_too(tmp_path, ending):
    path = tmp_path / "r.csv"
    path.write_text(_csv_text([row(source_record_id="A")]) + 'B,"education' + ending, encoding="utf-8")
    with pytest.raises(UnreadableFile, match="starting on line 3 is never closed"):
        _lines_of(path)


def test_a_record_spanning_more_lines_than_the_limit_rejects_with_its_line(tmp_path):
    note = "\n".join(["x"] * 5)
    path = tmp_path / "r.csv"
    path.write_text(f'id,note,x\n1,a,b\n2,"{note}",c\n3,d,e\n', encoding="utf-8")
    physical, records = _lines_of(path, limits=ReadLimits(record_lines=5))
    assert (physical.read, physical.header, physical.blank, physical.rows, records) == (8, 1, 0, 7, 3)
    with pytest.raises(UnreadableFile, match=r"starting on line 3 spans 5 lines.*TXPIPE_MAX_RECORD_LINES"):
        _lines_of(path, limits=ReadLimits(record_lines=4))


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_is_attributed(tmp_path, newline):
    """Blank lines before the header, between rows and inside quoted values, records of empty fields,
    and a record with the wrong field count: every physical line counted once."""
    text = newline.join(
        ["", "  ", "id,note,x", "1,a,b", "", "\t", '2,"one', "", "  ", 'three",c', ",,", "3,d", "4,e,f"]
    )
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8", newline="")
    physical, records = _lines_of(path)
    # 13 lines: 2 blank before the header, header, 2 blank between, a record on 4 lines, ',,' (blank),
    # '3,d' (quarantined: wrong field count), '4,e,f' (no final line ending)
    assert (physical.read, physical.header, physical.blank, physical.rows, physical.records) == (13, 1, 5, 7, 4)
    assert physical.balanced and records == physical.records


def test_a_header_longer_than_64_kib_is_read_whole(settings, landing):
    """A survey export with 6,000 question columns: the header was cut at byte 65,536, and every valid
    row quarantined as csv_field_count. Now the rows are read and the extra columns ignored."""
    extra = {f"question_{i:04d}": "yes" for i in range(6000)}
    rows = [row(source_record_id=f"R{i}") | extra for i in range(3)]
    (landing / "jadl").mkdir()
    (landing / "jadl" / "survey.csv").write_text(_csv_text(rows), encoding="utf-8")
    [record] = ingest_all(settings, landing)
    assert (record.status, record.rows_stored, record.rows_quarantined) == ("stored", 3, 0), record
    assert record.physical == {"unit": "lines", "read": 4, "header": 1, "blank": 0, "rows": 3, "records": 3}


@pytest.mark.deep  # 5 s; the 6,000-column header above covers the fixed buffer in the fast tier
def test_twenty_thousand_columns_are_not_a_false_duplicate(tmp_path):
    names = [f"x{i}" for i in range(1, 20_001)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join("v" for _ in names) + "\n", encoding="utf-8")
    delivered = read_delivery(path, ReadOptions())
    assert delivered.headers == names
    assert sum(len(b.frame) for b in delivered.batches) == 1


def test_the_ledger_records_the_lines_and_they_balance(settings, landing):
    path = write_csv(landing / "jadl" / "r.csv", [row(source_record_id="A"), row(source_record_id="B")])
    path.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    [record] = ingest_all(settings, landing)
    assert record.physical == {"unit": "lines", "read": 5, "header": 1, "blank": 2, "rows": 2, "records": 2}
    assert record.balanced
    record.physical["blank"] = 1
    assert not record.balanced  # the ledger's identity can fail


def test_a_header_line_past_its_bound_is_a_rejection_not_a_memory_grab(tmp_path, monkeypatch):
    from txpipe.ingest.readers import csv_exact as csv_reader

    monkeypatch.setattr(csv_reader, "HEADER_LINE_CHARS", 1000)
    path = tmp_path / "r.csv"
    path.write_text("a" * 5000 + "\n1\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="line 1 is longer than 1,000 characters"):
        _lines_of(path)


def test_two_stray_quotes_that_would_merge_lines_into_one_record_reject_the_file(tmp_path):
    """Quotes opening a field on line 3 and closing on line 5 inside other text would read lines 3-5 as
    one record of the right width (lines 4 and 5 lost, every identity true): quoting is strict."""
    path = tmp_path / "r.csv"
    path.write_text('id,note,x\n1,a,b\n2,"c,d\n3,e,f\n4,g"h,i\n5,j,k\n', encoding="utf-8")
    with pytest.raises(UnreadableFile, match="starting on line 3 is closed on line 5 and followed by other text"):
        _lines_of(path)


def test_a_bare_quote_inside_a_field_is_text(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('id,note,x\n1,5" floppy,b\n2,c,d\n', encoding="utf-8")
    delivered = read_delivery(path, ReadOptions())
    frames = [b.frame for b in delivered.batches]
    assert [r["note"] for f in frames for r in f.to_dict("records")] == ['5" floppy', "c"]
    assert delivered.physical.balanced and delivered.physical.records == 2


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_json_line_is_attributed(tmp_path, newline):
    """JSON Lines: a record per line not blank (a malformed line is a quarantined record), blank lines
    (spaces and tabs only) counted by the scan; a last line without its ending still counts."""
    good = '{"source_record_id": "A", "nation": "GEO"}'
    text = newline.join(
        ["", good, "  \t", "{broken", good.replace("A", "B"), "\u3000", '"text"', good.replace("A", "C")]
    )
    path = tmp_path / "r.jsonl"
    path.write_text(text, encoding="utf-8", newline="")
    physical, records = _lines_of(path)
    assert (physical.read, physical.header, physical.blank, physical.rows, physical.records) == (8, 0, 2, 6, 6)
    assert records == 6


def test_the_ledger_records_the_lines_of_json_lines(settings, landing):
    (landing / "jadl").mkdir()
    lines = [json.dumps(row(source_record_id=f"R{i}")) for i in range(3)]
    (landing / "jadl" / "r.jsonl").write_text("\n".join(lines[:2]) + "\n\n" + lines[2], encoding="utf-8")
    [record] = ingest_all(settings, landing)
    assert record.physical == {"unit": "lines", "read": 4, "header": 0, "blank": 1, "rows": 3, "records": 3}
    assert record.balanced and record.rows_stored == 3


def test_a_json_line_holding_an_object_of_no_value_is_blank(settings, landing):
    """A `{}` line was counted a record by the reader and dropped as blank by the frame: the delivery
    failed with an AssertionError in stage store. It is a blank line, as a record of empty fields."""
    (landing / "jadl").mkdir()
    good = json.dumps(row(source_record_id="R1"))
    (landing / "jadl" / "r.jsonl").write_text(f'{good}\n{{}}\n{{"nation": null, "status": "  "}}\n', encoding="utf-8")
    [record] = ingest_all(settings, landing)
    assert (record.status, record.rows_read, record.rows_stored) == ("stored", 1, 1)
    assert record.physical == {"unit": "lines", "read": 3, "header": 0, "blank": 2, "rows": 1, "records": 1}


@pytest.mark.parametrize(("tail", "line"), [(b"1,a,\xc3", 3), (b"\n\xc3", 4), (b"\r\xc3", 4)])
def test_a_character_cut_at_the_end_names_its_line(tmp_path, tail, line):
    path = tmp_path / "r.csv"
    path.write_bytes(b"id,note,x\n1,a,b\n" + (tail if tail[:1] != b"\n" and tail[:1] != b"\r" else b"2,c,d" + tail))
    with pytest.raises(UnreadableFile, match=rf"ends inside a character, on line {line}\)"):
        _lines_of(path)
