"""Hostile workbooks: zip bombs, lying dimensions, poison numbers and broken parts.

Each payload is a real .xlsx written here, with openpyxl or part by part with zipfile. A hostile
workbook is rejected whole (UnreadableFile) with a reason naming sizes, limits, cells and parts,
never a delivered value; it never crashes the reader and never costs more than the limits allow.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import replace

import pytest
from openpyxl import Workbook

from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery
from txpipe.ingest.sources import SourceConfig
from txpipe.settings import ReadLimits

KNOWN = SourceConfig(name="t").is_known_header
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
HEADER = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>source_record_id</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>nation</t></is></c>'
    '<c r="C1" t="inlineStr"><is><t>status</t></is></c></row>'
)
SECRET = "SECRET-VALUE"


def read_all(path, limits: ReadLimits | None = None):
    options = ReadOptions(is_known_header=KNOWN, limits=limits or ReadLimits())
    delivered = read_delivery(path, options)
    frames = [b.frame for b in delivered.batches]
    return delivered.headers, [(int(i), r) for f in frames for i, r in zip(f.index, f.to_dict("records"), strict=False)]


def rejected(path, limits: ReadLimits | None = None) -> str:
    with pytest.raises(UnreadableFile) as caught:
        read_all(path, limits)
    reason = str(caught.value)
    assert SECRET not in reason and "1111111111" not in reason
    return reason


def parts(sheet: str, shared: str | None = None, styles: str | None = None) -> dict[str, str]:
    """The parts of a minimal workbook (enough for openpyxl too) around one sheet's XML."""
    overrides = (
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    )
    rels = f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    found = {}
    if shared is not None:
        overrides += (
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        )
        rels += f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        found["xl/sharedStrings.xml"] = shared
    if styles is not None:
        overrides += (
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        )
        rels += f'<Relationship Id="rId3" Type="{REL}/styles" Target="styles.xml"/>'
        found["xl/styles.xml"] = styles
    return {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            f'ContentType="application/xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="Roster" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG}">{rels}</Relationships>',
        "xl/worksheets/sheet1.xml": sheet,
        **found,
    }


def sheet_xml(rows: str, dimension: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<worksheet xmlns="{MAIN}">{dim}<sheetData>{HEADER}{rows}</sheetData></worksheet>'


def write(path, files: dict[str, str | bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def data_row(number: int, record: str = "A", nation: str = "GEO") -> str:
    return (
        f'<row r="{number}"><c r="A{number}" t="inlineStr"><is><t>{record}{number}</t></is></c>'
        f'<c r="B{number}" t="inlineStr"><is><t>{nation}</t></is></c>'
        f'<c r="C{number}" t="inlineStr"><is><t>passed</t></is></c></row>'
    )


def test_a_crafted_workbook_reads(tmp_path):
    """The helper's workbook is sound: the hostile variants below differ from it in one thing."""
    path = write(tmp_path / "ok.xlsx", parts(sheet_xml(data_row(2) + data_row(3))))
    headers, rows = read_all(path)
    assert headers == ["source_record_id", "nation", "status"]
    assert [(i, r["source_record_id"]) for i, r in rows] == [(2, "A2"), (3, "A3")]


# --- 1. zip bombs and the limits ------------------------------------------------------------------

BOMB_ROW = '<row><c t="inlineStr"><is><t>x</t></is></c><c t="inlineStr"><is><t>GEO</t></is></c></row>'


def write_bomb(path, size: int, payload: bytes, head: str = HEADER, shared: bytes | None = None):
    """A workbook whose sheet (or shared strings) XML expands to about ``size`` bytes, streamed."""
    files = parts(sheet_xml(""), shared="" if shared is not None else None)
    files.pop("xl/worksheets/sheet1.xml")
    big = "xl/sharedStrings.xml" if shared is not None else "xl/worksheets/sheet1.xml"
    files.pop(big, None)
    if shared is not None:
        files["xl/worksheets/sheet1.xml"] = sheet_xml("")
        opening, closing = shared, b"</t></si></sst>"
    else:
        opening = f'<worksheet xmlns="{MAIN}"><sheetData>{head}'.encode()
        closing = b"</sheetData></worksheet>"
    block = payload * max(1, (1 << 20) // len(payload))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        with archive.open(big, "w", force_zip64=True) as stream:
            stream.write(opening)
            written = len(opening)
            while written < size:
                stream.write(block)
                written += len(block)
            stream.write(closing)
    return path


READER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery
    from txpipe.settings import ReadLimits
    from txpipe.ingest.sources import SourceConfig
    limits = ReadLimits(**json.loads(sys.argv[2]))
    started = time.monotonic()
    try:
        delivered = read_delivery(Path(sys.argv[1]), ReadOptions(
            is_known_header=SourceConfig(name="t").is_known_header, limits=limits))
        rows = sum(len(batch.frame) for batch in delivered.batches)
        outcome = {"status": "read", "rows": rows}
    except UnreadableFile as error:
        outcome = {"status": "rejected", "reason": str(error)}
    outcome["seconds"] = time.monotonic() - started
    # VmHWM: the peak RSS of this program's own memory (ru_maxrss would also count the parent's
    # memory at fork time, which Linux carries across exec).
    status = Path("/proc/self/status").read_text()
    outcome["max_rss_mib"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
    print(json.dumps(outcome))
""")


def read_in_subprocess(path, timeout=180, **limits) -> dict:
    """Read a workbook in a fresh process; its outcome, time and peak RSS (VmHWM)."""
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path), json.dumps(limits)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def gib_bomb(tmp_path_factory):
    """About 1 MiB on disk, 1 GiB of sheet XML once decompressed."""
    return write_bomb(tmp_path_factory.mktemp("bomb") / "bomb.xlsx", 1 << 30, BOMB_ROW.encode())


def test_gib_bomb_is_rejected_by_its_zip_directory_quickly_and_in_bounded_memory(gib_bomb):
    assert gib_bomb.stat().st_size < 4 << 20
    outcome = read_in_subprocess(gib_bomb)
    assert outcome["status"] == "rejected"
    assert "TXPIPE_MAX_XLSX_BYTES" in outcome["reason"] and "uncompressed" in outcome["reason"]
    assert outcome["seconds"] < 10 and outcome["max_rss_mib"] < 400, outcome


def test_gib_bomb_past_the_directory_checks_is_stopped_while_streaming(gib_bomb):
    """With the size limits lifted, the streaming parse stops the bomb at the row limit, in bounded memory."""
    outcome = read_in_subprocess(gib_bomb, xlsx_bytes=4 << 30, xlsx_ratio=1 << 30, sheet_rows=200_000)
    assert outcome["status"] == "rejected"
    assert "more than 200,000 rows" in outcome["reason"] and "TXPIPE_MAX_SHEET_ROWS" in outcome["reason"]
    assert outcome["max_rss_mib"] < 400, outcome


def test_one_giant_cell_is_stopped_at_the_field_limit_in_bounded_memory(tmp_path):
    """A single cell of 512 MiB (sizes lifted): rejected once it passes field_chars, not after."""
    path = write_bomb(
        tmp_path / "cell.xlsx", 512 << 20, b"x" * 4096, head=HEADER + '<row r="2"><c r="A2" t="inlineStr"><is><t>'
    )
    outcome = read_in_subprocess(path, xlsx_bytes=4 << 30, xlsx_ratio=1 << 30)
    assert outcome["status"] == "rejected"
    assert outcome["reason"].startswith("cell A2 is longer than the limit of 1,000,000 characters")
    assert outcome["max_rss_mib"] < 400, outcome


def test_one_giant_shared_string_is_stopped_at_the_field_limit_in_bounded_memory(tmp_path):
    opening = f'<sst xmlns="{MAIN}"><si><t>'.encode()
    path = write_bomb(tmp_path / "sst.xlsx", 512 << 20, b"y" * 4096, shared=opening)
    outcome = read_in_subprocess(path, xlsx_bytes=4 << 30, xlsx_ratio=1 << 30)
    assert outcome["status"] == "rejected"
    assert "shared string 1 of the workbook is longer than the limit of 1,000,000" in outcome["reason"]
    assert outcome["max_rss_mib"] < 400, outcome


def test_huge_shared_string_table_is_rejected_by_size(tmp_path):
    opening = f'<sst xmlns="{MAIN}"><si><t>a</t></si>'.encode()
    path = write_bomb(tmp_path / "sst.xlsx", 300 << 20, b"<si><t>a</t></si>", shared=opening + b"<si><t>")
    outcome = read_in_subprocess(path)
    assert outcome["status"] == "rejected" and "TXPIPE_MAX_XLSX_BYTES" in outcome["reason"]
    assert outcome["max_rss_mib"] < 400, outcome


def test_total_size_limit(tmp_path):
    path = write(tmp_path / "r.xlsx", parts(sheet_xml("".join(data_row(n) for n in range(2, 200)))))
    total = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    assert read_all(path, ReadLimits(xlsx_bytes=total))[1]
    reason = rejected(path, ReadLimits(xlsx_bytes=total - 1))
    assert reason == (
        f"the workbook's parts hold {total:,} bytes uncompressed, more than the limit of "
        f"{total - 1:,} bytes (TXPIPE_MAX_XLSX_BYTES)"
    )


def test_ratio_limit_and_small_parts_exempt(tmp_path):
    rows = "".join(data_row(n) for n in range(2, 3000))  # ~ 400 KB of very repetitive XML
    path = write(tmp_path / "r.xlsx", parts(sheet_xml(rows)))
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    ratio = info.file_size / info.compress_size
    assert info.file_size > 64 << 10 and ratio > 5
    assert len(read_all(path, ReadLimits(xlsx_ratio=int(ratio) + 1))[1]) == 2998
    reason = rejected(path, ReadLimits(xlsx_ratio=int(ratio) - 1))
    assert reason.startswith("the workbook's part 'xl/worksheets/sheet1.xml' expands")
    assert "TXPIPE_MAX_XLSX_RATIO" in reason and "zip bomb" in reason
    small = write(tmp_path / "small.xlsx", parts(sheet_xml(data_row(2) * 1 + data_row(3))))
    assert len(read_all(small, ReadLimits(xlsx_ratio=1))[1]) == 2  # parts under 64 KiB are exempt


def test_row_limit(tmp_path):
    path = write(tmp_path / "r.xlsx", parts(sheet_xml("".join(data_row(n) for n in range(2, 12)))))
    assert len(read_all(path, ReadLimits(sheet_rows=11))[1]) == 10
    reason = rejected(path, ReadLimits(sheet_rows=10))
    assert reason == "the sheet has more than 10 rows, the limit (TXPIPE_MAX_SHEET_ROWS; it reaches row 11)"


def test_a_far_row_number_is_rejected_by_the_row_limit(tmp_path):
    """Row 2,000,000 in a tiny file: no million empty rows are made, the row limit rejects it."""
    path = write(tmp_path / "r.xlsx", parts(sheet_xml(data_row(2) + data_row(2_000_000))))
    assert "it reaches row 2,000,000" in rejected(path)


def test_cell_limit_counts_every_cell_blank_ones_included(tmp_path):
    blanks = "".join(f'<row r="{n}"><c r="A{n}" s="0"/><c r="B{n}"/></row>' for n in range(2, 6))
    path = write(tmp_path / "r.xlsx", parts(sheet_xml(data_row(6) + "")))
    assert len(read_all(path, ReadLimits(sheet_cells=6))[1]) == 1
    path = write(tmp_path / "b.xlsx", parts(sheet_xml(blanks + data_row(6))))
    reason = rejected(path, ReadLimits(sheet_cells=10))
    assert reason == "the sheet has more than 10 cells, the limit (TXPIPE_MAX_SHEET_CELLS; reached in row 5)"


def test_field_limit_on_inline_and_shared_strings(tmp_path):
    long = "L" * 50
    inline = write(tmp_path / "i.xlsx", parts(sheet_xml(data_row(2, record=long))))
    assert read_all(inline, ReadLimits(field_chars=51))[1][0][1]["source_record_id"] == long + "2"
    assert rejected(inline, ReadLimits(field_chars=50)) == (
        "cell A2 is longer than the limit of 50 characters (TXPIPE_MAX_FIELD_CHARS)"
    )
    shared = write(
        tmp_path / "s.xlsx",
        parts(
            sheet_xml('<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2" t="s"><v>0</v></c></row>'),
            shared=f'<sst xmlns="{MAIN}"><si><t>GEO</t></si><si><r><t>{long}</t></r><r><t>!</t></r></si></sst>',
        ),
    )
    assert read_all(shared, ReadLimits(field_chars=51))[1][0][1]["source_record_id"] == long + "!"
    assert rejected(shared, ReadLimits(field_chars=50)) == (
        "shared string 2 of the workbook is longer than the limit of 50 characters (TXPIPE_MAX_FIELD_CHARS)"
    )


def test_a_directory_that_understates_a_part_cannot_make_it_read_more(tmp_path):
    """The central directory says the sheet is 600 bytes; the stream stops there (and the CRC fails)."""
    path = write(tmp_path / "r.xlsx", parts(sheet_xml("".join(data_row(n) for n in range(2, 400)))))
    data = bytearray(path.read_bytes())
    at = data.rfind(b"xl/worksheets/sheet1.xml") - 46  # the sheet's central directory record
    assert data[at : at + 4] == b"PK\x01\x02"
    data[at + 24 : at + 28] = struct.pack("<I", 600)  # its uncompressed size
    path.write_bytes(bytes(data))
    assert rejected(path) == "the workbook's part 'xl/worksheets/sheet1.xml' cannot be decompressed (a CRC mismatch)"


def test_bytes_read_are_metered_whatever_the_directory_says(tmp_path):
    from txpipe.ingest.readers import excel

    path = write(tmp_path / "r.xlsx", parts(sheet_xml("".join(data_row(n) for n in range(2, 400)))))
    archive = excel._Archive(path, ReadLimits())
    archive.limits = ReadLimits(xlsx_bytes=1000)  # as if the directory had declared under 1,000 bytes
    with pytest.raises(UnreadableFile, match="decompressed more than the limit of 1,000 bytes"):
        list(archive.chunks("xl/worksheets/sheet1.xml"))
    archive.close()


# --- 2. the real rows, never the <dimension> ------------------------------------------------------


def test_rows_beyond_an_understated_dimension_are_read(tmp_path):
    """<dimension ref="A1:Q2"> over 4 data rows: all 4 are read (openpyxl's read-only mode read 1)."""
    path = write(tmp_path / "r.xlsx", parts(sheet_xml("".join(data_row(n) for n in range(2, 6)), "A1:Q2")))
    assert [i for i, _ in read_all(path)[1]] == [2, 3, 4, 5]


def test_columns_beyond_an_understated_dimension_are_read(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["note", "source_record_id", "nation", "status", "start_date", "score"])
    for n in range(4):
        sheet.append([None, f"R{n}", "GEO", "passed", "2024-03-04", 90 + n])
    path = tmp_path / "r.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        files = {i.filename: archive.read(i) for i in archive.infolist()}
    xml = files["xl/worksheets/sheet1.xml"].decode()
    assert re.search(r'<dimension ref="A1:F5"\s*/>', xml)
    files["xl/worksheets/sheet1.xml"] = re.sub(r'<dimension ref="A1:F5"\s*/>', '<dimension ref="A1:B2"/>', xml)
    write(path, files)
    headers, rows = read_all(path)
    assert headers == ["note", "source_record_id", "nation", "status", "start_date", "score"]
    assert [(i, r["source_record_id"], r["score"]) for i, r in rows] == [
        (2, "R0", "90"),
        (3, "R1", "91"),
        (4, "R2", "92"),
        (5, "R3", "93"),
    ]


# --- 3. poison values and broken parts: rejected with a reason, never a crash ---------------------


def cell(xml: str) -> str:
    """A data row 2 whose first cell is ``xml``."""
    return (
        f'<row r="2">{xml}<c r="B2" t="inlineStr"><is><t>GEO</t></is></c>'
        '<c r="C2" t="inlineStr"><is><t>passed</t></is></c></row>'
    )


DATE_STYLES = (
    f'<styleSheet xmlns="{MAIN}"><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>'
)
SHARED = f'<sst xmlns="{MAIN}"><si><t>{SECRET}</t></si></sst>'


def test_a_date_formatted_cell_reads_as_a_date(tmp_path):
    path = write(tmp_path / "d.xlsx", parts(sheet_xml(cell('<c r="A2" s="1"><v>45355</v></c>')), styles=DATE_STYLES))
    assert read_all(path)[1][0][1]["source_record_id"] == "2024-03-04"


POISON = {
    "number_of_5000_digits": (
        {"sheet": sheet_xml(cell('<c r="A2"><v>' + "1" * 5000 + "</v></c>"))},
        "cell A2 is a number cell holding 5,000 characters that are not a number Excel can hold "
        "(at most 100 characters)",
    ),
    "number_that_is_not_a_number": (
        {"sheet": sheet_xml(cell(f'<c r="A2"><v>{SECRET}</v></c>'))},
        "cell A2 is a number cell holding 12 characters that are not a number Excel can hold",
    ),
    "number_beyond_float_range": (
        {"sheet": sheet_xml(cell('<c r="A2"><v>1e999</v></c>'))},
        "cell A2 is a number cell beyond the range Excel can hold",
    ),
    "date_formatted_huge_serial": (
        {"sheet": sheet_xml(cell('<c r="A2" s="1"><v>1e300</v></c>')), "styles": DATE_STYLES},
        "cell A2 is formatted as a date but holds a serial number that is no date Excel can show",
    ),
    "date_formatted_serial_past_year_9999": (
        {"sheet": sheet_xml(cell('<c r="A2" s="1"><v>99999999</v></c>')), "styles": DATE_STYLES},
        "cell A2 is formatted as a date but holds a serial number",
    ),
    "date_cell_not_a_date": (
        {"sheet": sheet_xml(cell(f'<c r="A2" t="d"><v>{SECRET}</v></c>'))},
        "cell A2 is a date cell holding no readable date",
    ),
    "boolean_not_0_or_1": (
        {"sheet": sheet_xml(cell(f'<c r="A2" t="b"><v>{SECRET}</v></c>'))},
        "cell A2 is a true/false cell holding something else",
    ),
    "unknown_cell_type": (
        {"sheet": sheet_xml(cell('<c r="A2" t="zz"><v>1</v></c>'))},
        "cell A2 has a cell type a workbook does not use",
    ),
    "shared_string_index_out_of_range": (
        {"sheet": sheet_xml(cell('<c r="A2" t="s"><v>7</v></c>')), "shared": SHARED},
        "cell A2 refers to a shared string the workbook does not hold (it holds 1)",
    ),
    "shared_string_index_not_a_number": (
        {"sheet": sheet_xml(cell('<c r="A2" t="s"><v>-1</v></c>')), "shared": SHARED},
        "cell A2 refers to a shared string the workbook does not hold",
    ),
    "shared_string_without_a_table": (
        {"sheet": sheet_xml(cell('<c r="A2" t="s"><v>0</v></c>'))},
        "cell A2 refers to a shared string the workbook does not hold (it holds 0)",
    ),
    "malformed_cell_reference": (
        {"sheet": sheet_xml(cell('<c r="A-2"><v>1</v></c>'))},
        "the sheet has a malformed cell reference in row 2 (after column none)",
    ),
    "cell_beyond_column_xfd": (
        {"sheet": sheet_xml(cell('<c r="XFE2"><v>1</v></c>'))},
        "the sheet has a cell beyond Excel's last column XFD in row 2",
    ),
    "cells_out_of_order": (
        {"sheet": sheet_xml('<row r="2"><c r="C2"><v>1</v></c><c r="A2"><v>2</v></c></row>')},
        "the sheet's cells are out of order in row 2 (column A comes after column C)",
    ),
    "rows_out_of_order": (
        {"sheet": sheet_xml(data_row(3) + data_row(2))},
        "the sheet's rows are out of order (row 2 comes after row 3)",
    ),
    "row_number_repeated": (
        {"sheet": sheet_xml(data_row(2) + data_row(2, record="B"))},
        "the sheet's rows are out of order (row 2 comes after row 2)",
    ),
    "row_number_malformed": (
        {"sheet": sheet_xml('<row r="x2"><c r="A2"><v>1</v></c></row>')},
        "the sheet has a row with a malformed row number after row 1",
    ),
    "sheet_xml_truncated": (
        {"sheet": sheet_xml(data_row(2))[:-40]},
        "the workbook's part 'xl/worksheets/sheet1.xml' is not well-formed XML (unclosed token at line 1",
    ),
    "sheet_xml_garbage": (
        {"sheet": "\x00\x01 not xml " + SECRET},
        "the workbook's part 'xl/worksheets/sheet1.xml' is not well-formed XML",
    ),
    "sheet_xml_unbound_prefix": (
        {"sheet": f"<x:worksheet><sheetData>{HEADER}</sheetData></x:worksheet>"},
        "is not well-formed XML (unbound prefix",
    ),
    "billion_laughs_in_sheet": (
        {
            "sheet": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
            + f']><worksheet xmlns="{MAIN}"><sheetData>{HEADER}'
            + cell('<c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c>')
            + "</sheetData></worksheet>"
        },
        "the workbook's XML declares a DTD, which a workbook never does",
    ),
    "external_entity_in_shared_strings": (
        {
            "sheet": sheet_xml(cell('<c r="A2" t="s"><v>0</v></c>')),
            "shared": '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f'<sst xmlns="{MAIN}"><si><t>&x;</t></si></sst>',
        },
        "the workbook's XML declares a DTD",
    ),
    "shared_strings_not_well_formed": (
        {"sheet": sheet_xml(cell('<c r="A2" t="s"><v>0</v></c>')), "shared": f"<sst><si><t>{SECRET}</sst>"},
        "the workbook's part 'xl/sharedStrings.xml' is not well-formed XML",
    ),
    "styles_not_well_formed": (
        {"sheet": sheet_xml(data_row(2)), "styles": "<styleSheet><cellXfs>"},
        "the workbook's part 'xl/styles.xml' is not well-formed XML",
    ),
    "too_many_cell_formats": (
        {
            "sheet": sheet_xml(data_row(2)),
            "styles": f'<styleSheet xmlns="{MAIN}"><cellXfs>'
            + '<xf numFmtId="14"/>' * 65_491
            + "</cellXfs></styleSheet>",
        },
        "the workbook's styles hold more than 65,490 cell formats, more than Excel allows",
        ReadLimits(xlsx_ratio=1 << 20),
    ),  # past the ratio limit, which would reject it first
}


@pytest.mark.parametrize("name", sorted(POISON))
def test_poison_payload_is_rejected_with_a_specific_reason(tmp_path, name):
    spec, expected, *limits = POISON[name]
    path = write(tmp_path / f"{name}.xlsx", parts(spec["sheet"], spec.get("shared"), spec.get("styles")))
    reason = rejected(path, *limits)
    assert reason.startswith(expected) or expected in reason, reason


def zip_of(tmp_path, name, mutate) -> str:
    files = parts(sheet_xml(data_row(2)))
    mutate(files)
    return rejected(write(tmp_path / f"{name}.xlsx", files))


def test_missing_sheet_part(tmp_path):
    assert zip_of(tmp_path, "m", lambda f: f.pop("xl/worksheets/sheet1.xml")) == (
        "the workbook's part 'xl/worksheets/sheet1.xml' is missing"
    )


def test_sheet_part_that_is_a_directory(tmp_path):
    def mutate(files):
        files["xl/worksheets/sheet1.xml/"] = files.pop("xl/worksheets/sheet1.xml") and ""

    assert zip_of(tmp_path, "d", mutate) == "the workbook's part 'xl/worksheets/sheet1.xml' is missing"


def test_workbook_part_missing_or_broken(tmp_path):
    assert zip_of(tmp_path, "w", lambda f: f.pop("xl/workbook.xml")).startswith("not a readable XLSX workbook")
    assert zip_of(tmp_path, "b", lambda f: f.update({"xl/workbook.xml": "<workbook><sheets>"})) == (
        "the workbook's part 'xl/workbook.xml' is not well-formed XML (no element found at line 1, column 18)"
    )
    assert zip_of(tmp_path, "r", lambda f: f.update({"_rels/.rels": "<Relationships"})).startswith(
        "the workbook's part '_rels/.rels' is not well-formed XML"
    )


def test_crc_error_in_the_sheet(tmp_path):
    path = write(tmp_path / "crc.xlsx", parts(sheet_xml(data_row(2, record=SECRET))), zipfile.ZIP_STORED)
    data = path.read_bytes()
    at = data.index(SECRET.encode())
    path.write_bytes(data[:at] + b"X" + data[at + 1 :])  # same length, different bytes: only the CRC tells
    assert rejected(path) == "the workbook's part 'xl/worksheets/sheet1.xml' cannot be decompressed (a CRC mismatch)"


def test_corrupt_deflate_stream_in_the_sheet(tmp_path):
    path = write(tmp_path / "z.xlsx", parts(sheet_xml("".join(data_row(n) for n in range(2, 300)))))
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10 : start + 60] = b"\xff" * 50
    path.write_bytes(bytes(data))
    assert rejected(path).startswith("the workbook's part 'xl/worksheets/sheet1.xml' cannot be decompressed (")


def test_encrypted_zip_member(tmp_path):
    path = write(tmp_path / "e.xlsx", parts(sheet_xml(data_row(2))))
    data = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the 'encrypted' flag bit
        at = -1
        while (at := data.find(signature, at + 1)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + 24] == b"xl/worksheets/sheet1.xml":
                data[at + flag_at] |= 1
    path.write_bytes(bytes(data))
    assert rejected(path) == "the workbook's part 'xl/worksheets/sheet1.xml' cannot be decompressed (RuntimeError)"


def test_truncated_zip(tmp_path):
    path = write(tmp_path / "t.xlsx", parts(sheet_xml(data_row(2))))
    path.write_bytes(path.read_bytes()[:300])
    assert rejected(path).startswith("not a readable XLSX workbook")


def test_reasons_never_quote_values_under_lowered_limits(tmp_path):
    path = write(
        tmp_path / "v.xlsx",
        parts(sheet_xml(cell(f'<c r="A2" t="inlineStr"><is><t>{SECRET * 3}</t></is></c>')), shared=SHARED),
    )
    for limits in (
        ReadLimits(field_chars=20),
        ReadLimits(sheet_cells=4),
        ReadLimits(sheet_rows=1),
        ReadLimits(xlsx_bytes=100),
        replace(ReadLimits(), xlsx_ratio=1),
    ):
        try:
            read_all(path, limits)
        except UnreadableFile as error:
            assert SECRET not in str(error)


# --- a malformed sheet or zip directory is a rejection with a reason, never another exception ------


def test_a_row_closed_inside_a_cell_is_a_rejection(tmp_path):
    """A <row/> inside a cell closes the row before the cell ends: formerly a TypeError, a failure
    retried on every run; now the file is rejected with a reason."""
    broken = '<row r="2"><c r="A2" t="inlineStr"><row/><is><t>X</t></is></c></row>'
    path = write(tmp_path / "r.xlsx", parts(sheet_xml(broken)))
    assert "cell outside any row" in rejected(path)


def test_a_zip_version_python_cannot_read_is_a_rejection(tmp_path):
    """A central directory entry that needs a newer zip version than Python reads (NotImplementedError
    from zipfile) rejects the workbook."""
    path = write(tmp_path / "v.xlsx", parts(sheet_xml(data_row(2))))
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # the last central directory entry
    assert central > 0
    data[central + 4] = 250  # "version made by": 25.0, beyond what zipfile supports
    data[central + 6] = 250  # "version needed to extract"
    path.write_bytes(bytes(data))
    reason = rejected(path)
    assert "NotImplementedError" in reason or "cannot be decompressed" in reason
