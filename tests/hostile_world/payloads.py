"""Hostile deliveries written from the README's landing format, as literal bytes.

Nothing here imports txpipe: the expected outcomes are derived from the documented rules
(README) and from the issue text, never from the program.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

CANONICAL = [
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
HEADER = ",".join(CANONICAL)

# --------------------------------------------------------------------------------------------
# Secret payloads: strings that must never appear in any message, report, log, artifact, lake
# file, mart or warehouse table.  Each one sits where the README says a value is never stored
# (participant_ref, a column that is not canonical, a header that is not a name, a rejected file,
# a file behind a symlink).  They are ASCII without characters HTML/JSON would escape.
# --------------------------------------------------------------------------------------------
SECRETS = {
    # issue (2): header-less CSV whose first line is a data row
    "nohead_email": "person3.hostile@example.org",
    "nohead_id": "EVIL-0003",
    "nohead_title": "Qz7nohead Secret Course",
    "nohead_row2_email": "person4.hostile@example.org",
    "nohead_semi_email": "semi.hwsecret@example.org",
    "nohead_semi_id": "SEMI-HWSECRET-9",
    "nohead_solo": "solo.hwsecret@example.org",
    "nohead_json_email": "jnohead.hwsecret@example.org",
    # a header holding an e-mail, in a file missing required columns (rejected)
    "header_email_missing": "hdrmiss.hwsecret@example.org",
    # a header holding an e-mail in a stored file (ignored column)
    "header_email_stored": "hdr.hwsecret@example.org",
    # values of a non-canonical column (never stored)
    "extra_value_1": "val1.hwsecret@example.org",
    "extra_value_2": "val2.hwsecret@example.org",
    "extra_value_3": "val3.hwsecret@example.org",
    # participant_ref values (never stored: pseudonymised), one on a quarantined row
    "pref_stored": "pref1.hwsecret@example.org",
    "pref_quarantined": "pref2.hwsecret@example.org",
    # JSON Lines: an e-mail as a key and as a non-canonical value
    "json_key_email": "jkey.hwsecret@example.org",
    "json_value_email": "jval.hwsecret@example.org",
    # XLSX: an e-mail as a header cell
    "xlsx_header_email": "xhdr.hwsecret@example.org",
    # a Latin-1 line (file rejected as not UTF-8): the line must not be quoted
    "latin1_email": "latin.hwsecret@example.org",
    # a duplicated header that is an e-mail
    "dup_header_email": "dup.hwsecret@example.org",
    # the name of the only sheet of a workbook with no recognisable header (rejected)
    "sheet_name_email": "shn.hwsecret@example.org",
    # issue (3): things behind symlinks
    "symlink_first_line": "HWSECRET-SYMLINK-FIRSTLINE-7Q3",
    "etc_passwd": "root:x:0:0",
    "outside_file_id": "HWSECRET-OUTSIDE-1",
    "outside_file_email": "outside.hwsecret@example.org",
    "symdir_id": "HWSECRET-SYMDIR-1",
    "symsub_id": "HWSECRET-SYMSUB-1",
}

# Delivered values of quarantined rows: the README lets them live in the quarantined row's
# `record` / `offending_values` (lake quarantine, warehouse quarantine) and nowhere else
# (no message, reason, report, log or artifact; nation suggestions name reference nations only).
QUARANTINE_ONLY = {
    "q_nation": "Georgiqsecretland",
    "q_activity": "qsecret activity!!",
    "q_status": "qsecret-status",
    "q_score": "qsecret-score",
}

BIG_DIGITS = "7" * 5000  # 5,000-digit integer (Python refuses int<->str beyond 4,300 digits)


def csv_row(
    record_id: str,
    *,
    participant_ref: str | None = None,
    status: str = "passed",
    headcount: str = "1",
    score: str = "88.5",
    title: str = "Operations Planning",
    nation: str = "GEO",
    sep: str = ",",
) -> str:
    values = [
        record_id,
        "training",
        "N5-35",
        title,
        "N5-35-B-24",
        "NSO",
        "2024-03-04",
        "2024-03-08",
        "resident",
        nation,
        participant_ref or f"P-{record_id}",
        headcount,
        "F",
        "OF-3",
        "student",
        status,
        score,
    ]
    return sep.join(values)


def json_obj(record_id: str, **extra) -> str:
    """One canonical JSON object as text (literal JSON, keys in canonical order, then extra keys raw)."""
    base = {
        "source_record_id": f'"{record_id}"',
        "programme": '"training"',
        "activity_code": '"N5-35"',
        "activity_title": '"Operations Planning"',
        "iteration_id": '"N5-35-B-24"',
        "provider": '"NSO"',
        "start_date": '"2024-03-04"',
        "end_date": '"2024-03-08"',
        "delivery_mode": '"resident"',
        "nation": '"GEO"',
        "participant_ref": f'"P-{record_id}"',
        "headcount": "1",
        "sex": '"F"',
        "rank": '"OF-3"',
        "role": '"student"',
        "status": '"passed"',
        "score": "88.5",
    }
    base.update(extra)  # values are raw JSON text
    return "{" + ", ".join(f'"{k}": {v}' for k, v in base.items()) + "}"


# --------------------------------------------------------------------------------------------
# A minimal XLSX written by hand (zip of literal XML), so cells can hold what no writer library
# would produce (a 5,000-digit number) and the header can hold an e-mail.
# --------------------------------------------------------------------------------------------
_CT = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" \
ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" \
ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
_RELS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" \
Target="xl/workbook.xml"/>
</Relationships>"""
_WB = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" \
xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>
</workbook>"""
_WB_RELS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" \
Target="worksheets/sheet1.xml"/>
</Relationships>"""


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def xlsx_bytes(rows: list[list[object]], sheet_name: str = "Roster") -> bytes:
    """rows of cells: str -> inline string; ("n", "digits") -> numeric cell with that literal text."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>',
    ]
    for r, cells in enumerate(rows, start=1):
        out.append(f'<row r="{r}">')
        for c, cell in enumerate(cells):
            ref = f"{_col(c)}{r}"
            if isinstance(cell, tuple):
                out.append(f'<c r="{ref}"><v>{cell[1]}</v></c>')
            else:
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{cell}</t></is></c>')
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB.format(name=sheet_name).encode())
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", "".join(out).encode())
    return buf.getvalue()


def xlsx_row(record_id: str, **override) -> list[object]:
    values = dict(zip(CANONICAL, csv_row(record_id).split(","), strict=False))
    values.update(override)
    return [values[c] for c in CANONICAL]


# --------------------------------------------------------------------------------------------
# The landing and what the README + issue say must happen to every file.
# --------------------------------------------------------------------------------------------
@dataclass
class Expect:
    status: set[str]  # allowed ledger statuses
    rows_read: int | None = None  # exact rows_read when known
    rows_stored: int | None = None
    rows_quarantined: int | None = None
    rows_duplicate: int | None = None
    reason_has: list[list[str]] = field(default_factory=list)  # each inner list: any-of substrings
    ignored_count: int | None = None
    ignored_has: list[str] = field(default_factory=list)


@dataclass
class World:
    landing: Path
    sources_dir: Path
    outside: Path
    expected: dict[tuple[str, str], Expect]
    symlinks: set[str]  # landing-relative POSIX paths that are symlinks
    secrets: dict[str, str]


def _w(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_world(root: Path) -> World:
    landing = root / "landing"
    sources = root / "sources"
    outside = root / "outside"
    for d in (landing, sources, outside):
        d.mkdir(parents=True)
    E: dict[tuple[str, str], Expect] = {}
    S = SECRETS

    # ---- a plain control delivery -------------------------------------------------------------
    _w(
        landing / "alpha" / "good.csv",
        (HEADER + "\n" + "\n".join(csv_row(f"A-{i}") for i in (1, 2, 3)) + "\n").encode(),
    )
    E[("alpha", "good.csv")] = Expect({"stored"}, 3, 3, 0, 0)

    # ---- (2) values leaking through messages --------------------------------------------------
    nohead = (
        csv_row(S["nohead_id"], participant_ref=S["nohead_email"], title=S["nohead_title"])
        + "\n"
        + csv_row("EVIL-0004", participant_ref=S["nohead_row2_email"])
        + "\n"
    )
    assert len(nohead.splitlines()[0].split(",")) == 17
    _w(landing / "leak" / "nohead.csv", nohead.encode())
    E[("leak", "nohead.csv")] = Expect({"rejected"}, 0, 0, 0, 0, reason_has=[["17"]])

    semi = csv_row(S["nohead_semi_id"], participant_ref=S["nohead_semi_email"], sep=";") + "\r\n"
    _w(landing / "leak" / "nohead_semi.csv", semi.encode())
    E[("leak", "nohead_semi.csv")] = Expect({"rejected"}, 0, 0, 0, 0, reason_has=[["17"]])

    _w(landing / "leak" / "nohead_solo.csv", (S["nohead_solo"] + "\n").encode())
    E[("leak", "nohead_solo.csv")] = Expect({"rejected"}, 0, 0, 0, 0)

    # JSON Lines with no canonical key at all: rejected whole (missing required columns)
    _w(landing / "leak" / "nohead.jsonl", ('{{"contact": "{}", "who": "x"}}\n'.format(S["nohead_json_email"])).encode())
    E[("leak", "nohead.jsonl")] = Expect({"rejected"}, 0, 0, 0, 0)

    _w(
        landing / "leak" / "missing_req.csv",
        (f"source_record_id,{S['header_email_missing']},nation\nMR-1,x,GEO\n").encode(),
    )
    E[("leak", "missing_req.csv")] = Expect(
        {"rejected"}, 0, 0, 0, 0, reason_has=[["programme"], ["activity_code"], ["status"]]
    )

    extra_header = HEADER + f",notes,contact_email,{S['header_email_stored']}"
    extra_rows = [
        csv_row("X-1", participant_ref=S["pref_stored"]) + f",free text,{S['extra_value_1']},a",
        csv_row("X-2") + f",more text,{S['extra_value_2']},b",
        csv_row("X-3", participant_ref=S["pref_quarantined"], status="bogus-status") + f",third,{S['extra_value_3']},c",
    ]
    _w(landing / "leak" / "extra_cols.csv", (extra_header + "\n" + "\n".join(extra_rows) + "\n").encode())
    E[("leak", "extra_cols.csv")] = Expect(
        {"stored"}, 3, 2, 1, 0, ignored_count=3, ignored_has=["notes", "contact_email"]
    )

    jl = (
        json_obj("J-1", comment=f'"{S["json_value_email"]}"', **{S["json_key_email"]: '"v"'})
        + "\n"
        + json_obj("J-2")
        + "\n"
    )
    _w(landing / "leak" / "keyed.jsonl", jl.encode())
    E[("leak", "keyed.jsonl")] = Expect({"stored"}, 2, 2, 0, 0, ignored_count=2, ignored_has=["comment"])

    _w(
        landing / "leak" / "xhdr.xlsx",
        xlsx_bytes(
            [
                [*CANONICAL, S["xlsx_header_email"]],
                [*xlsx_row("XL-1"), "a"],
                [*xlsx_row("XL-2"), "b"],
            ]
        ),
    )
    E[("leak", "xhdr.xlsx")] = Expect({"stored"}, 2, 2, 0, 0, ignored_count=1)

    dup_header = HEADER + f",{S['dup_header_email']},{S['dup_header_email']}"
    _w(landing / "leak" / "dup_header.csv", (dup_header + "\n" + csv_row("D-1") + ",a,b\n").encode())
    E[("leak", "dup_header.csv")] = Expect({"stored", "rejected"})

    _w(
        landing / "leak" / "sheetname.xlsx",
        xlsx_bytes([["Banner only"], ["nothing", "here"]], sheet_name=S["sheet_name_email"]),
    )
    E[("leak", "sheetname.xlsx")] = Expect({"rejected"}, 0, 0, 0, 0)

    Q = QUARANTINE_ONLY
    qrows = [
        csv_row("Q-1", nation=Q["q_nation"]),
        csv_row("Q-2").replace(",N5-35,", f",{Q['q_activity']},", 1),
        csv_row("Q-3", status=Q["q_status"]),
        csv_row("Q-4", score=Q["q_score"]),
        csv_row("Q-5"),
    ]
    _w(landing / "leak" / "qvalues.csv", (HEADER + "\n" + "\n".join(qrows) + "\n").encode())
    E[("leak", "qvalues.csv")] = Expect({"stored"}, 5, 1, 4, 0)

    latin = (
        HEADER
        + "\n"
        + csv_row("L-1")
        + "\n"
        + csv_row("L-2", participant_ref=S["latin1_email"], title="Caf\xe9 course")
        + "\n"
    )
    _w(landing / "leak" / "latin1.csv", latin.encode("latin-1"))
    E[("leak", "latin1.csv")] = Expect({"rejected"}, 0, 0, 0, 0, reason_has=[["line 3"]])  # README: names the line

    # ---- (3) symlinks -------------------------------------------------------------------------
    _w(outside / "secret.txt", (S["symlink_first_line"] + "\n" + HEADER + "\n" + csv_row("SEC-1") + "\n").encode())
    _w(
        outside / "valid.csv",
        (HEADER + "\n" + csv_row(S["outside_file_id"], participant_ref=S["outside_file_email"]) + "\n").encode(),
    )
    _w(outside / "dir" / "roster.csv", (HEADER + "\n" + csv_row(S["symdir_id"]) + "\n").encode())
    _w(outside / "subdir" / "roster.csv", (HEADER + "\n" + csv_row(S["symsub_id"]) + "\n").encode())

    _w(landing / "symfile" / "real.csv", (HEADER + "\n" + csv_row("SF-1") + "\n" + csv_row("SF-2") + "\n").encode())
    E[("symfile", "real.csv")] = Expect({"stored"}, 2, 2, 0, 0)
    links = {
        "symfile/passwd.csv": Path("/etc/passwd"),
        "symfile/secret.csv": outside / "secret.txt",
        "symfile/outside.csv": outside / "valid.csv",
        "symfile/inside.csv": Path("../alpha/good.csv"),  # relative, pointing inside the landing
        "symfile/dangling.csv": outside / "does-not-exist.csv",
        "symdir": outside / "dir",  # a whole source folder
        "symsub/inner": outside / "subdir",  # a folder inside a source folder
    }
    _w(landing / "symsub" / "real.csv", (HEADER + "\n" + csv_row("SS-1") + "\n").encode())
    E[("symsub", "real.csv")] = Expect({"stored"}, 1, 1, 0, 0)
    for rel, target in links.items():
        p = landing / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)

    # ---- (4) poison numbers -------------------------------------------------------------------
    ok_or_rejected = {"stored", "rejected"}
    _w(
        landing / "bignum" / "big.jsonl",
        (
            json_obj("BJ-1", headcount=BIG_DIGITS)
            + "\n"
            + json_obj("BJ-2", score=BIG_DIGITS)
            + "\n"
            + json_obj("BJ-3", extra_number=BIG_DIGITS)
            + "\n"
            + json_obj("BJ-4", score="1e99999")
            + "\n"
            + json_obj("BJ-5", headcount="-" + BIG_DIGITS + ".5e-3")
            + "\n"
            + json_obj("BJ-6")
            + "\n"
        ).encode(),
    )
    E[("bignum", "big.jsonl")] = Expect(ok_or_rejected)
    _w(
        landing / "bignum" / "big.json",
        (
            "["
            + json_obj("BA-1", headcount=BIG_DIGITS)
            + ",\n"
            + json_obj("BA-2", score=BIG_DIGITS)
            + ",\n"
            + json_obj("BA-3", participant_ref=BIG_DIGITS)
            + ",\n"
            + json_obj("BA-4")
            + "]\n"
        ).encode(),
    )
    E[("bignum", "big.json")] = Expect(ok_or_rejected)
    _w(
        landing / "bignum" / "big.csv",
        (
            HEADER
            + "\n"
            + csv_row("BC-1", headcount=BIG_DIGITS)
            + "\n"
            + csv_row("BC-2", score=BIG_DIGITS)
            + "\n"
            + csv_row("BC-3", headcount="0x" + "f" * 5000)
            + "\n"
            + csv_row("BC-4")
            + "\n"
        ).encode(),
    )
    E[("bignum", "big.csv")] = Expect(ok_or_rejected)
    header_cells = list(CANONICAL)
    _w(
        landing / "bignum" / "big.xlsx",
        xlsx_bytes(
            [
                header_cells,
                xlsx_row("BX-1", headcount=("n", BIG_DIGITS)),
                xlsx_row("BX-2", score=("n", BIG_DIGITS)),
                xlsx_row("BX-3", score=("n", "1E+400")),
                xlsx_row("BX-4", participant_ref=("n", BIG_DIGITS)),
                xlsx_row("BX-5"),
            ]
        ),
    )
    E[("bignum", "big.xlsx")] = Expect(ok_or_rejected)

    # ---- (4) hostile source configs (TXPIPE_SOURCES_DIR) --------------------------------------
    roster_csv = (HEADER + "\n" + csv_row("C-1") + "\n" + csv_row("C-2") + "\n").encode()
    roster_xlsx = xlsx_bytes([CANONICAL, xlsx_row("C-1"), xlsx_row("C-2")])
    configs: dict[str, tuple[bytes, list[list[str]], set[str], bytes, str]] = {
        # source: (toml bytes, reason must name (any-of per group), allowed statuses, file, file name)
        "cfg-enc-base64": (b'encoding = "base64"\n', [["encoding", "base64"]], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-enc-int": (b"encoding = 5\n", [["encoding"]], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-enc-rot13": (b'encoding = "rot13"\n', [["encoding", "rot13"]], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-enc-bogus": (
            b'encoding = "no-such-codec-xyz"\n',
            [["encoding", "no-such-codec"]],
            {"rejected"},
            roster_csv,
            "roster.csv",
        ),
        "cfg-delim-ab": (b'delimiter = "ab"\n', [["delimiter"]], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-delim-quote": (
            b"delimiter = '\"'\n",
            [["delimiter", "missing required"]],
            {"rejected"},
            roster_csv,
            "roster.csv",
        ),
        "cfg-delim-empty": (b'delimiter = ""\n', [["delimiter"]], {"rejected", "stored"}, roster_csv, "roster.csv"),
        "cfg-columns-str": (b'columns = "x"\n', [["columns"]], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-columns-int": (
            b'[columns]\n"Course" = 5\n',
            [["columns", "Course", "course"]],
            {"rejected"},
            roster_csv,
            "roster.csv",
        ),
        "cfg-aliases-str": (b'aliases = "x"\n', [["aliases"]], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-aliases-inner": (
            b'[aliases]\nstatus = "x"\n',
            [["aliases", "status"]],
            {"rejected"},
            roster_csv,
            "roster.csv",
        ),
        # an alias whose canonical value is a number, used by a row: no crash (rejected, or the row judged)
        "cfg-aliases-int": (
            b'[aliases.status]\n"Graduated" = 1\n',
            [["aliases", "status", "Graduated"]],
            {"rejected", "stored"},
            (HEADER + "\n" + csv_row("C-1") + "\n" + csv_row("C-2", status="Graduated") + "\n").encode(),
            "roster.csv",
        ),
        "cfg-nested": (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", [], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-sheet-int": (b"sheet = 3\n", [["sheet"]], {"rejected"}, roster_xlsx, "roster.xlsx"),
        "cfg-dateorder-list": (b"date_order = []\n", [["date_order"]], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-dateorder-bogus": (
            b'date_order = "XYZ"\n',
            [["date_order", "XYZ"]],
            {"rejected"},
            roster_csv,
            "roster.csv",
        ),
        "cfg-defaults-table": (
            b"[defaults]\nprogramme = {a=1}\n",
            [["defaults", "programme"]],
            {"rejected"},
            roster_csv,
            "roster.csv",
        ),
        "cfg-desc-inf": (b"description = 1e400\n", [], {"rejected", "stored"}, roster_csv, "roster.csv"),
        "cfg-syntax": (b'description = "unterminated\n', [], {"rejected"}, roster_csv, "roster.csv"),
        "cfg-not-utf8": (b'description = "\xff\xfe caf\xe9"\n', [], {"rejected"}, roster_csv, "roster.csv"),
    }
    for source, (toml, reason_has, statuses, data, name) in configs.items():
        (sources / f"{source}.toml").write_bytes(toml)
        _w(landing / source / name, data)
        exp = Expect(statuses, reason_has=reason_has)
        if statuses == {"rejected"}:
            exp.rows_read, exp.rows_stored, exp.rows_quarantined, exp.rows_duplicate = 0, 0, 0, 0
        E[(source, name)] = exp

    E.update(build_markup(landing))

    return World(landing, sources, outside, E, set(links), dict(SECRETS))


MARKUP_NAMES = ["[bold]b[red].csv", ":x: smile.csv", "esc\x1b[31mred.csv", "nl\nbreak.csv"]


def build_markup(landing: Path) -> dict[tuple[str, str], Expect]:
    """Issue (9): data that Rich would take as markup, emoji codes, control characters.

    "/" cannot be in a file name: the closing tag "[/x]" of the issue is a header cell of
    header.csv and the first cell of the header-less file (whose old reason quoted its first row).
    """
    E: dict[tuple[str, str], Expect] = {}
    for i, name in enumerate(MARKUP_NAMES, start=1):
        _w(landing / "markup" / name, (HEADER + "\n" + csv_row(f"M-{i}") + "\n").encode())
        E[("markup", name)] = Expect({"stored"}, 1, 1, 0, 0)
    _w(landing / "markup" / "header.csv", (HEADER + ",[/x],:x:,\x1b[2J\n" + csv_row("M-9") + ",a,b,c\n").encode())
    E[("markup", "header.csv")] = Expect({"stored"}, 1, 1, 0, 0, ignored_count=3)
    # a header-less file whose first row holds markup: rejected, nothing of it printed
    _w(landing / "markup" / "[red]nohead.csv", (csv_row("[/x]", title=":x: [/bold]") + "\n").encode())
    E[("markup", "[red]nohead.csv")] = Expect({"rejected"}, 0, 0, 0, 0)
    # a source folder whose name is markup (not lower-case letters): its file is rejected
    _w(landing / "[red]:x:" / "roster.csv", (HEADER + "\n" + csv_row("BAD-1") + "\n").encode())
    E[("[red]:x:", "roster.csv")] = Expect({"rejected"}, 0, 0, 0, 0)
    return E
