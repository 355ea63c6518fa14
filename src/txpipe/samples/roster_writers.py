"""Writing roster deliveries, each format in the shape its programme office really exports.

- ``xlsx`` and ``nso_csv``: NSO course rosters with the office's own column names (the XLSX with a
  banner above the header and the odd blank row; the CSV with ';', a BOM, CRLF and day-first dates);
- ``json``: JFTC events, one JSON array of canonical records;
- ``jsonl``: MTEP contingents as JSON Lines, a broken line cut off mid-object;
- ``csv``: JADL completions, plain comma CSV with the canonical columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any, TextIO

from txpipe.samples.roster_vocab import CANONICAL_HEADERS, NSO_HEADERS, NSO_RESULT, Record

FILE_PLAN = {  # source -> formats of its files, cycled
    "nso": ("xlsx", "nso_csv"),
    "jftc": ("json",),
    "mtep": ("jsonl",),
    "jadl": ("csv",),
}
SUFFIX = {"xlsx": ".xlsx", "nso_csv": ".csv", "csv": ".csv", "json": ".json", "jsonl": ".jsonl"}


# -- rows in each source's shape ---------------------------------------------------------
def _nso_row(rec: Record, rng: random.Random, excel: bool) -> list[object]:
    """An NSO roster row: own column names and words, day-first dates (real dates in Excel), a free-text remark."""

    def dmy(iso: str) -> str | dt.date:
        try:
            day = dt.date.fromisoformat(iso)
        except ValueError:
            return iso
        return day if excel else day.strftime("%d.%m.%Y")

    nation = rec["nation"]
    number = rec["participant_ref"]
    return [
        rec["source_record_id"],
        rec["activity_code"],
        rec["activity_title"],
        rec["iteration_id"],
        dmy(rec["start_date"]),
        dmy(rec["end_date"]),
        nation,
        number,
        f"Student {number[-5:]}" if number else None,
        f"student.{number[-5:]}@example.mil" if number else None,
        {"F": "W", "M": "Male"}.get(rec["sex"], rec["sex"]),
        rec["rank"],
        NSO_RESULT.get(rec["status"], rec["status"]),
        _number(rec["score"]) if excel else rec["score"],
        rng.choice([None, None, None, "late arrival", "needs visa letter;\nsee file"]),
    ]


def _number(text: str | None) -> float | str | None:
    """A score as a spreadsheet or JSON number where it is one (defects stay text)."""
    try:
        return float(text) if text else None
    except ValueError:
        return text


def _jftc_record(rec: Record) -> dict[str, Any]:
    """A JFTC JSON object: the canonical columns, with headcount and score as JSON numbers."""
    out = {k: rec[k] for k in CANONICAL_HEADERS}
    out["headcount"] = int(rec["headcount"])
    out["score"] = _number(rec["score"])
    return out


def _mtep_record(rec: Record) -> dict[str, Any]:
    """An MTEP JSON Lines object under the programme's own keys and role codes."""
    return {
        "contingent_id": rec["source_record_id"],
        "exercise": rec["activity_code"],
        "exercise_name": rec["activity_title"],
        "serial": rec["iteration_id"],
        "provider": rec["provider"],
        "start_date": rec["start_date"],
        "end_date": rec["end_date"],
        "nation": rec["nation"],
        "participant_ref": rec["participant_ref"],
        "persons": int(rec["headcount"]),
        "sex": rec["sex"],
        "rank": rec["rank"],
        "capacity": {"training_audience": "TA", "observer": "OBS"}.get(rec["role"], rec["role"]),
        "status": rec["status"],
    }


# -- files ---------------------------------------------------------------------------------
class Writer:
    """Writes one delivery file row by row and reports each row's source_row."""

    def __init__(self, path: Path, fmt: str, source: str, rng: random.Random):
        self.path, self.fmt, self.source, self.rng = path, fmt, source, rng
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        if fmt == "xlsx":
            from openpyxl import Workbook

            self.book = Workbook(write_only=True)
            self.sheet = self.book.create_sheet("Roster")
            self.sheet.append(["NATO School Oberammergau - Student Administration"])
            self.sheet.append([f"Course roster export, generated {dt.date(2026, 1, 15).isoformat()}"])
            self.sheet.append([])
            self.sheet.append(NSO_HEADERS)
            self.next_row = 5
        elif fmt == "nso_csv":
            self.handle = _open_text(path, "utf-8-sig", "")
            self.csv = csv.writer(self.handle, delimiter=";", lineterminator="\r\n")
            self.csv.writerow(NSO_HEADERS)
            self.next_row = 2
        elif fmt == "csv":
            self.handle = _open_text(path, "utf-8", "")
            self.csv = csv.writer(self.handle, lineterminator="\n")
            self.csv.writerow(CANONICAL_HEADERS)
            self.next_row = 2
        elif fmt == "json":
            self.items: list[dict[str, Any]] = []
            self.next_row = 1
        elif fmt == "jsonl":
            self.handle = _open_text(path, "utf-8", "\n")
            self.next_row = 1

    def write(self, rec: Record) -> int:
        """Write one record; return its source_row."""
        row = self.next_row
        self.rows += 1
        if self.fmt == "xlsx":
            self.sheet.append(_nso_row(rec, self.rng, excel=True))
            self.next_row += 1
            if self.rows % 97 == 0:  # exports hold the odd blank row; it must be skipped
                self.sheet.append([])
                self.next_row += 1
        elif self.fmt == "nso_csv":
            self.csv.writerow(_nso_row(rec, self.rng, excel=False))
            self.next_row += 1
        elif self.fmt == "csv":
            self.csv.writerow([rec[k] for k in CANONICAL_HEADERS])
            self.next_row += 1
        elif self.fmt == "json":
            self.items.append(_jftc_record(rec))
            self.next_row += 1
        elif self.fmt == "jsonl":
            text = json.dumps(_mtep_record(rec), ensure_ascii=False)
            if rec.get("__broken__"):
                text = text[: len(text) // 2]  # a line cut off mid-object
            self.handle.write(text + "\n")
            self.next_row += 1
        return row

    def close(self) -> None:
        """Finish the file: save the workbook or the JSON array, or close the text file."""
        if self.fmt == "xlsx":
            self.book.save(self.path)
            _freeze_xlsx(self.path)
        elif self.fmt == "json":
            self.path.write_text(json.dumps(self.items, indent=1, ensure_ascii=False), encoding="utf-8")
        else:
            self.handle.close()


def _open_text(path: Path, encoding: str, newline: str) -> TextIO:
    """A text delivery opened for writing: the :class:`Writer` holds it across its calls and closes it in ``close``."""
    return open(path, "w", encoding=encoding, newline=newline)


def _freeze_xlsx(path: Path) -> None:
    """Make an XLSX byte-for-byte reproducible: fixed document dates and zip entry times."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    stamp = b"2026-01-15T00:00:00Z"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            target.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 15, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
