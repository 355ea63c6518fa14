"""Writes the hostile-input corpus under tests/hostile/landing/ and its expected outcomes.

Run once by hand when the corpus changes (the files are committed):

    .venv/bin/python tests/hostile/make_corpus.py

The encrypted workbook needs msoffcrypto-tool (`pip install msoffcrypto-tool`); without it the
committed password.xlsx is kept. Every expected outcome below is written by hand from the
contract, not copied from txpipe's output.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import shutil
import zipfile
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent
LANDING = HERE / "landing"
SOURCE = "hostile"

HEADERS = [
    "source_record_id",
    "programme",
    "activity_code",
    "activity_title",
    "iteration_id",
    "provider",
    "start_date",
    "end_date",
    "delivery_mode",
    "nation",
    "participant_ref",
    "headcount",
    "sex",
    "rank",
    "role",
    "status",
    "score",
]


def good(n: int, **changes) -> dict:
    record = {
        "source_record_id": f"H{n}",
        "programme": "education",
        "activity_code": "N5-35",
        "activity_title": "Comprehensive Operations Planning Course",
        "iteration_id": "N5-35-B-24",
        "provider": "NSO",
        "start_date": "2024-03-04",
        "end_date": "2024-03-08",
        "delivery_mode": "resident",
        "nation": "GEO",
        "participant_ref": f"HP-{n}",
        "headcount": "1",
        "sex": "F",
        "rank": "OF-3",
        "role": "student",
        "status": "passed",
        "score": "81",
    }
    record.update(changes)
    return record


def csv_text(rows: list[dict], headers=HEADERS, delimiter=",", newline="\n") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=headers, delimiter=delimiter, lineterminator=newline, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


EXPECTED: dict[str, dict] = {}


def expect(name: str, source: str = SOURCE, **outcome) -> Path:
    EXPECTED[f"{source}/{name}"] = outcome
    path = LANDING / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def stored(read: int, stored_rows: int, quarantined: dict | None = None, duplicate: int = 0, **more) -> dict:
    quarantined = quarantined or {}
    return {
        "status": "stored",
        "rows_read": read,
        "rows_stored": stored_rows,
        "rows_quarantined": len(quarantined),
        "rows_duplicate": duplicate,
        "quarantine": {str(k): v for k, v in quarantined.items()},
        **more,
    }


def rejected(reason: str) -> dict:
    return {"status": "rejected", "reason": reason}


def workbook(path: Path, sheets: dict[str, list[list]]) -> Workbook:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return book


def values(record: dict) -> list:
    return [record[h] for h in HEADERS]


def build() -> None:
    if LANDING.exists():
        keep = LANDING / SOURCE / "password.xlsx"
        saved = keep.read_bytes() if keep.exists() else None
        shutil.rmtree(LANDING)
    else:
        saved = None

    # --- CSV: whole-file rejections -------------------------------------------------------
    expect("empty.csv", **rejected("empty (0 bytes)")).write_bytes(b"")
    expect("blank_lines_only.csv", **rejected("only blank lines")).write_text("\n\n  \n\n")
    expect("binary.csv", **rejected("not text")).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    expect("latin1.csv", **rejected("not valid UTF-8 (first bad byte 0xfc on line 3)")).write_bytes(
        csv_text([good(1), good(2, activity_title="Führungslehrgang")]).encode("latin-1")
    )
    expect("utf16.csv", **rejected("UTF-16")).write_bytes(csv_text([good(1)]).encode("utf-16"))
    expect("missing_nation_column.csv", **rejected("missing required column(s) nation")).write_text(
        csv_text([good(1)], headers=[h for h in HEADERS if h != "nation"])
    )
    expect("duplicated_header.csv", **rejected("duplicated column 'Nation' (columns 10 and 18)")).write_text(
        csv_text([{**good(1), "Nation": "ARM"}], headers=[*HEADERS, "Nation"])
    )
    expect("header_blank_names.csv", **rejected("the header row is empty")).write_text(" , ,\n1,2,3\n")
    expect("blank_lines_before_header.csv", **stored(2, 2)).write_text("\n\n" + csv_text([good(1), good(2)]))
    expect("mixed_delimiters_header_only_semicolons.csv", **rejected("missing required column(s)")).write_text(
        "a;b;c\n1;2;3\n"
    )

    # --- CSV: row-level trouble -------------------------------------------------------------
    expect("header_only.csv", **stored(0, 0)).write_text(",".join(HEADERS) + "\n")
    text = csv_text([good(1), good(2), good(3)]) + "H4,education,N5-35,Comprehensive"
    expect("truncated_last_line.csv", **stored(4, 3, {5: ["csv_field_count"]})).write_text(text)
    text = csv_text([good(1), good(2)]) + 'H3,education,N5-35,"An unterminated title,NSO,2024-03-04\n'
    # a quote never closed: the file is rejected naming the line its record starts on (issue 23)
    expect("truncated_inside_quote.csv", **rejected("starting on line 4 is never closed")).write_text(text)
    lines = ";".join(HEADERS) + "\n" + "\n".join(",".join(values(good(n))) for n in (1, 2)) + "\n"
    expect("wrong_delimiter_in_rows.csv", **stored(2, 0, {2: ["csv_field_count"], 3: ["csv_field_count"]})).write_text(
        lines
    )
    expect("extra_columns.csv", **stored(2, 2, ignored=["Email", "Phone", "Notes"])).write_text(
        csv_text(
            [{**good(1), "Email": "someone@example.org", "Phone": "+49 8821 0000", "Notes": "x"}, good(2)],
            headers=[*HEADERS, "Email", "Phone", "Notes"],
        )
    )
    expect("long_field_100k.csv", **stored(2, 1, {2: ["activity_title_too_long"]})).write_text(
        csv_text([good(1, activity_title="A" * 100_000), good(2)])
    )
    expect("formula_cells.csv", **stored(2, 2)).write_text(
        csv_text(
            [
                good(1, activity_title='=HYPERLINK("http://example.invalid/x","click")'),
                good(2, source_record_id="=1+2", provider="@SUM(A1:A9)"),
            ]
        )
    )
    shapes = ["2024/03/04", "03-04-2024", "March 4 2024", "45355", "2024-02-30", "04.03.2024", "tomorrow", "2024-3-4"]
    # all but the last are not ISO dates (or not dates); unpadded ISO 2024-3-4 is accepted as 4 March
    expect(
        "dates_wrong_shapes.csv",
        **stored(len(shapes), 1, {n + 2: ["start_date_invalid"] for n in range(len(shapes) - 1)}),
    ).write_text(csv_text([good(n, start_date=s, end_date="2024-03-08") for n, s in enumerate(shapes)]))
    expect("bom_semicolon_crlf.csv", **stored(2, 2)).write_bytes(
        ("\ufeff" + csv_text([good(1, nation="Türkiye"), good(2)], delimiter=";", newline="\r\n")).encode("utf-8")
    )
    expect("quoted_newlines_and_delimiters.csv", **stored(3, 3)).write_text(
        csv_text(
            [
                good(1, activity_title="Line one\nline two, with a comma"),
                good(2, activity_title='He said "hi"'),
                good(3),
            ]
        )
    )
    expect("trailing_empty_columns.csv", **stored(2, 2, ignored=["(column 18)", "(column 19)"])).write_text(
        "\n".join(",".join(values(good(n))) + ",," for n in (1, 2)).join([",".join(HEADERS) + ",,\n", "\n"])
    )
    wide_headers = HEADERS + [f"extra_{i:04d}" for i in range(4983)]
    expect("wide_5000_columns.csv", **stored(2, 2, ignored_count=4983)).write_text(
        csv_text([good(1), good(2)], headers=wide_headers)
    )
    expect("mixed_case_spaced_headers.csv", **stored(1, 1)).write_text(
        csv_text([good(1)]).replace("source_record_id", " Source_Record_ID ", 1).replace("nation", "NATION", 1)
    )
    expect(
        "duplicates.csv", **stored(5, 1, {5: ["conflicting_duplicate"], 6: ["conflicting_duplicate"]}, duplicate=2)
    ).write_text(csv_text([good(1), good(1), good(1), good(2), good(2, status="failed")]))
    # Warning rows after quarantined rows of the same chunk: each stored row keeps exactly its own warnings
    # (the shape that once moved warnings onto the wrong stored row, or past the last one).
    expect(
        "warnings_after_quarantined.csv",
        **stored(
            7,
            4,
            {2: ["nation_unknown"], 4: ["end_before_start"], 6: ["status_invalid"]},
            warnings={
                # Z9-999 with N5-35's iteration N5-35-B-24: an iteration of another activity (README "Iteration ids")
                "3": ["activity_code_not_in_catalogue", "iteration_id_malformed"],
                "5": ["iteration_id_malformed"],
                "7": None,
                "8": ["activity_code_not_in_catalogue", "iteration_id_malformed"],
            },
        ),
    ).write_text(
        csv_text(
            [
                good(1, nation="Narnia"),
                good(2, activity_code="Z9-999"),
                good(3, end_date="2024-03-01"),
                good(4, iteration_id="spring intake"),
                good(5, status="unsure"),
                good(6),
                good(7, activity_code="Z9-998", iteration_id="autumn"),
            ]
        )
    )
    expect("numbers_as_text_and_spaces.csv", **stored(1, 1)).write_text(
        csv_text([good(1, headcount=" 1 ", score=" 88.50 ", nation="  georgia  ")])
    )
    expect("huge_numbers.csv", **stored(2, 0, {2: ["headcount_invalid"], 3: ["score_invalid"]})).write_text(
        csv_text([good(1, headcount="99999999999", participant_ref=""), good(2, score="1e400")])
    )
    expect("file with spaces.csv", **stored(1, 1)).write_text(csv_text([good(1)]))
    expect("unicodé naïve ✓ file.csv", **stored(1, 1)).write_text(csv_text([good(1)]))
    expect("..dotdot..csv", **stored(1, 1)).write_text(csv_text([good(1)]))
    expect("no_extension", **rejected("unsupported file type '(none)'")).write_text(csv_text([good(1)]))
    expect("legacy.xls", **rejected("unsupported file type '.xls'")).write_bytes(
        bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512
    )
    expect("export.csv.gz", **rejected("unsupported file type '.gz'")).write_bytes(
        gzip.compress(csv_text([good(1)]).encode())
    )

    # --- JSON -------------------------------------------------------------------------------
    expect("not_an_array.json", **rejected("single dict")).write_text(json.dumps({"records": [good(1)]}, indent=2))
    expect("trailing_comma.json", **rejected("broken JSON")).write_text(json.dumps([good(1)])[:-1] + ",]")
    expect("deeply_nested.json", **rejected("nested too deeply")).write_text("[" * 100_000 + "]" * 100_000)
    expect("numbers_as_strings.json", **stored(2, 2)).write_text(
        json.dumps([{**good(1), "headcount": "1", "score": "88"}, {**good(2, headcount=1), "score": 91.5}])
    )
    expect("nested_values.json", **stored(2, 1, {2: ["nation_unknown"]})).write_text(
        json.dumps([{**good(1), "extra": {"deep": [1, {"deeper": True}]}}, {**good(2), "nation": {"code": "GEO"}}])
    )
    expect(
        "array_with_scalars.json", **stored(3, 1, {1: ["json_record_not_object"], 2: ["json_record_not_object"]})
    ).write_text(json.dumps([1, "two", good(3)]))
    expect("empty_array.json", **rejected("missing required column(s)")).write_text("[]")
    expect("broken_line.jsonl", **stored(3, 2, {2: ["json_line_malformed"]})).write_text(
        json.dumps(good(1)) + "\n" + json.dumps(good(2))[:40] + "\n" + json.dumps(good(3)) + "\n"
    )
    expect("all_lines_broken.jsonl", **rejected("broken JSON")).write_text('{"a": \n{"b": \n')
    expect("bom.jsonl", **stored(1, 1)).write_bytes(("\ufeff" + json.dumps(good(1)) + "\n").encode("utf-8"))

    # --- XLSX -------------------------------------------------------------------------------
    path = expect("merged_cells.xlsx", **stored(2, 1, {4: ["activity_code_missing"]}))
    book = Workbook()
    sheet = book.active
    sheet.append(["NATO School Oberammergau roster"])
    sheet.merge_cells("A1:Q1")
    sheet.append(HEADERS)
    sheet.append(values(good(1)))
    sheet.append(values(good(2)))
    sheet.merge_cells("C3:C4")  # the second row's activity_code is swallowed by the merge
    book.save(path)
    workbook(
        expect("several_sheets.xlsx", **stored(1, 1)),
        {
            "Cover": [["This workbook holds the roster on the next sheet"]],
            "Roster": [HEADERS, values(good(1))],
            "Pivot": [["nation", "count"], ["GEO", 1]],
        },
    )
    workbook(
        expect("formula_column.xlsx", **stored(2, 2, ignored=["Total"])),
        {
            "Roster": [[*HEADERS, "Total"], [*values(good(1)), "=L2*2"], [*values(good(2, score=None)), "=L3*2"]],
        },
    )
    workbook(
        expect(
            "totals_row.xlsx",
            **stored(
                3,
                2,
                {
                    4: [
                        "programme_missing",
                        "activity_code_missing",
                        "start_date_missing",
                        "end_date_missing",
                        "nation_missing",
                        "participant_ref_missing",
                        "status_missing",
                    ]
                },
            ),
        ),
        {
            "Roster": [HEADERS, values(good(1)), values(good(2)), ["Total"] + [None] * 10 + ["=SUM(L2:L3)"]],
        },
    )
    workbook(
        expect("banner_too_deep.xlsx", **rejected("no header row found")),
        {
            "Roster": [[f"banner {n}"] for n in range(11)] + [HEADERS, values(good(1))],
        },
    )
    workbook(
        expect("dates_as_cells.xlsx", **stored(1, 1)),
        {
            "Roster": [
                HEADERS,
                [
                    dt.datetime(2024, 3, 4)
                    if h == "start_date"
                    else dt.date(2024, 3, 8)
                    if h == "end_date"
                    else good(1)[h]
                    for h in HEADERS
                ],
            ],
        },
    )
    with zipfile.ZipFile(expect("really_a_zip.xlsx", **rejected("not a readable XLSX")), "w") as archive:
        archive.writestr("readme.txt", "this is not a workbook")
    expect("really_csv.xlsx", **rejected("not a readable XLSX")).write_text(csv_text([good(1)]))
    password = expect("password.xlsx", **rejected("password-protected"))
    try:
        from msoffcrypto.format.ooxml import OOXMLFile

        plain = io.BytesIO()
        workbook(LANDING / "plain.tmp.xlsx", {"Roster": [HEADERS, values(good(1))]})
        with open(LANDING / "plain.tmp.xlsx", "rb") as handle:
            OOXMLFile(handle).encrypt("secret", plain)
        (LANDING / "plain.tmp.xlsx").unlink()
        password.write_bytes(plain.getvalue())
    except ImportError:
        if saved is None:
            raise SystemExit("password.xlsx needs msoffcrypto-tool the first time") from None
        password.write_bytes(saved)

    # --- sources with configs, and a folder name txpipe refuses -----------------------------
    expect("declared_latin1.csv", source="ptec_latin1", **stored(2, 2)).write_bytes(
        csv_text([good(1), good(2, activity_title="Führungslehrgang")]).encode("latin-1")
    )
    expect(
        "declared_comma_but_semicolons.csv", source="ptec_comma", **rejected("missing required column(s)")
    ).write_text(csv_text([good(1)], delimiter=";"))
    expect("roster.csv", source="Bad Source", **rejected("lower-case")).write_text(csv_text([good(1)]))

    # --- the control file: must be untouched by everything above ----------------------------
    expect("control.csv", source="control", **stored(3, 3)).write_text(csv_text([good(1), good(2), good(3)]))

    (HERE / "expected.json").write_text(json.dumps(EXPECTED, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(EXPECTED)} files")


if __name__ == "__main__":
    build()
