"""Byte-level damage to valid deliveries (issue 23), judged by the README's rules, not by txpipe's output.

Hypothesis builds a valid delivery in each format (CSV with `,`, CSV with `;`, JSON Lines) from `row()`
with varied values (delimiters, quotes, line breaks inside values, non-ASCII, blank lines, CRLF or LF,
a BOM, a last line with or without its ending, a few rows the rules quarantine), then damages copies
of it with 1-3 of: an inserted quote, a cut line (a line break inserted), a line cut short, a NUL, a
lone surrogate (a JSON escape, or bytes that are not UTF-8), a BOM mid-file, a truncated end, a doubled
delimiter, and a line of its own holding one character that is not a space or a tab. The clean
delivery and its damaged copies are ingested in one run (each in its own source), with 2 to 100,000
rows per chunk, and each damaged copy is judged against the README:

- the run does not fail, each file has exactly one ledger record, and the record balances;
- if not rejected: `physical.read` is the count of lines in the damaged bytes (a line ends at \\n,
  \\r\\n or \\r; a blank line holds only spaces and tabs), `read = header + blank + rows`, `records =
  rows_read`, and where the attribution is unambiguous the whole `physical` record; the lake holds the
  ledger's counts; every record sits at the README's `source_row`; a record the damage broke is
  quarantined with the reason the README names (`csv_field_count`, `json_line_malformed`,
  `nul_character`, ...); every row whose lines were not damaged (and that the damage did not merge
  into another record) is stored or quarantined exactly as in the clean delivery, pseudonymised with
  the README's HMAC for its source;
- if rejected: the reason names a line, a stage or a limit and quotes no delivered value, nothing of
  it is in the lake, and a README rule allows it (a CSV that is not UTF-8, naming the line of the
  first bad byte; a quote never closed or a record too long, naming the line its record starts on; a
  lone surrogate; a binary-looking head; no rows; and a stray quote, which this oracle reads as
  Python's csv does, allowing a rejection).

Cost (2 cores, shared): an ingest run costs ~0.7 s whatever it holds (GX runs once per batch) plus
~0.06 s per file, so one example of the main property holds 3 clean deliveries and 18 damaged copies
in one run (~1.7-2 s). TXPIPE_HYPOTHESIS_PROFILE=quick: 20 examples, i.e. 360 damaged deliveries, in
about 40 s when it passes; check: 100 examples (1,800 damaged deliveries) in about 3.5 minutes. 200
examples of one run each would take ~6 minutes in `make test`, so the examples are counted in damaged
deliveries. The other properties: 8 (quick) / 40 (check) runs of 6 header-damaged files, 6 / 30 runs
of 4 files under a random TXPIPE_MAX_RECORD_LINES. The last tests hold failures found, as minimal bytes.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import io
import json
import re
import tempfile
from bisect import bisect_right
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from tests.conftest import TEST_KEY, ingest_all, read_parquet_rows, row
from tests.hypothesis_profiles import examples
from txpipe.ingest import IngestContext
from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery
from txpipe.settings import Settings

HYP = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
}
FORMATS = ("csv,", "csv;", "jsonl")
DAMAGES = ("quote", "split", "chop", "nul", "surrogate", "bom", "truncate", "double_delimiter", "odd_line")
# a line of its own holding one character that is not a space or a tab (README: so it is not blank)
ODD_LINES = ("\ufeff", "\x0c", "\x0b", "\x85", "\u00a0", "\u2028", "\u200b", '""')
# columns of a lake row that name where it came from rather than what was delivered
PROVENANCE = {"source", "participant_pid", "batch_id", "source_file", "ingested_at", "run_id", "source_row"}
BOM = b"\xef\xbb\xbf"
RUNS = count()


# --------------------------------------------------------------------------------------------- the deliveries

TITLE_PIECES = (
    "Course", " on ", "Ops", ", ", ",", ";", '"', '""', "\n", "\r\n", "\r", "é", "中文", "🙂",
    "\u2028", "\x85", "\x0c", "\t", "|", "'", "\\", "\\ud800", " ",
)  # fmt: skip
PROVIDERS = ("NSO", "NATO School, Oberammergau", 'The "NDC"', "JFTC;Bydgoszcz", "ACT\nNorfolk", "Défense", "A\r\nB")
REF_TAILS = ("", ",a", ";b", '"c"', "é", "|d")
NATIONS = ("GEO", "FRA", "Georgia", "fr", "NLD", "Netherlands (the)")
SCORES = ("88.5", "100", "0", ".5", "1e1", "+5", "99.99")
STATUSES = ("passed", "nominated", "withdrawn")
FLAWS = {"nation": ("nation", "ZZZ"), "status": ("status", "bogus"), "score": ("score", "101")}


@st.composite
def row_lists(draw) -> list[dict]:
    n = draw(st.integers(10, 30))
    numbers = draw(st.lists(st.integers(0, 9999), min_size=n, max_size=n, unique=True))
    rows = []
    for k in numbers:
        pieces = draw(st.lists(st.sampled_from(TITLE_PIECES), max_size=6))
        if sum(p in ("\n", "\r\n", "\r") for p in pieces) > 3:
            pieces = [p for p in pieces if p not in ("\n", "\r\n", "\r")]
        values = row(
            source_record_id=f"R{k:04d}X",  # one length: no id is a prefix of another
            participant_ref=f"P-{draw(st.integers(0, 99999)):05d}{draw(st.sampled_from(REF_TAILS))}",
            activity_title=f"T{k} " + "".join(pieces),
            provider=draw(st.sampled_from(PROVIDERS)),
            nation=draw(st.sampled_from(NATIONS)),
            score=draw(st.sampled_from(SCORES)),
            status=draw(st.sampled_from(STATUSES)),
        )
        flaw = draw(st.sampled_from((None,) * 9 + tuple(FLAWS)))
        if flaw:
            column, value = FLAWS[flaw]
            values[column] = value
        rows.append(values)
    return rows


@dataclass
class Line:
    content: bytes
    ending: bytes
    kind: str  # header, row or blank
    row: int | None = None  # index of the row it holds (part of)
    origin: int = 0  # index in the clean file


@dataclass
class Delivery:
    fmt: str  # one of FORMATS
    rows: list[dict]
    lines: list[Line]

    @property
    def delimiter(self) -> str:
        return self.fmt[3:]

    @property
    def suffix(self) -> str:
        return "jsonl" if self.fmt == "jsonl" else "csv"

    def data(self) -> bytes:
        return b"".join(line.content + line.ending for line in self.lines)

    def __repr__(self) -> str:  # the failure message holds the bytes
        return f"<{self.fmt} delivery of {len(self.rows)} rows, {len(self.data())} bytes>"

    def _repr_pretty_(self, printer, cycle) -> None:  # how hypothesis prints a falsifying example
        printer.text(repr(self))


def split_physical(text: str) -> list[tuple[str, str]]:
    """A record's text as physical lines (content, ending), by the README's line rule."""
    parts = re.split(r"(\r\n|\r|\n)", text)
    return [(parts[i], parts[i + 1] if i + 1 < len(parts) else "") for i in range(0, len(parts), 2)]


def csv_line_text(values: list[str], delimiter: str) -> str:
    # lineterminator \r\n so that QUOTE_MINIMAL quotes a value holding either \r or \n
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()[:-2]


def build_delivery(fmt: str, rows: list[dict], ending: str = "\n", **options) -> Delivery:
    """The bytes a careful exporter writes: options blanks [(before row, text)], last_ending, bom, ensure_ascii."""
    blanks, lines = options.get("blanks", []), []
    if fmt != "jsonl":
        header = csv_line_text(list(rows[0]), fmt[3:]).encode()
        lines.append(Line((BOM if options.get("bom") else b"") + header, ending.encode(), "header"))
    for index in range(len(rows) + 1):
        lines += [Line(text.encode(), ending.encode(), "blank") for at, text in blanks if at == index]
        if index == len(rows):
            break
        if fmt == "jsonl":
            pieces = [(json.dumps(rows[index], ensure_ascii=options.get("ensure_ascii", True)), "")]
        else:
            pieces = split_physical(csv_line_text(list(rows[index].values()), fmt[3:]))
        pieces[-1] = (pieces[-1][0], ending)
        lines += [Line(text.encode(), end.encode(), "row", index) for text, end in pieces]
    if not options.get("last_ending", True) and lines[-1].kind == "row":
        lines[-1].ending = b""
    for origin, line in enumerate(lines):
        line.origin = origin
    return Delivery(fmt, rows, lines)


@st.composite
def deliveries(draw, fmt: str) -> Delivery:
    rows = draw(row_lists())
    return build_delivery(
        fmt,
        rows,
        draw(st.sampled_from(["\n", "\r\n"])),
        blanks=draw(
            st.lists(st.tuples(st.integers(0, len(rows)), st.sampled_from(["", " ", "\t ", " \t "])), max_size=3)
        ),
        last_ending=draw(st.booleans()),
        bom=draw(st.booleans()),
        ensure_ascii=draw(st.booleans()),
    )


plans = st.lists(
    st.tuples(st.sampled_from(DAMAGES), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 11)),
    min_size=1,
    max_size=3,
)


# ------------------------------------------------------------------------------------------------- the damage


@dataclass
class Damaged:
    clean: Delivery
    lines: list[Line]  # what is left, damaged
    hit: set[int]  # origins of the lines damaged (or cut away by a truncation)
    plan: list[tuple]

    def data(self) -> bytes:
        return b"".join(line.content + line.ending for line in self.lines)

    def intact_rows(self) -> list[int]:
        hit_rows = {line.row for line in self.clean.lines if line.origin in self.hit and line.row is not None}
        return [index for index in range(len(self.clean.rows)) if index not in hit_rows]


def insertion(kind: str, variant: int, content: bytes, delivery: Delivery, position: int) -> tuple[bytes, int]:
    """The bytes a damage inserts and where (the position may move onto a delimiter or into a value)."""
    jsonl = delivery.fmt == "jsonl"
    if kind == "quote":
        return b'"', position
    if kind == "split":
        return (b"\n", b"\r\n", b"\r")[variant % 3], position
    if kind == "bom":
        return BOM, position
    if kind == "double_delimiter":
        marks = b",:" if jsonl else delivery.delimiter.encode()
        spots = [i for i, byte in enumerate(content) if byte in marks]
        if not spots:
            return marks[:1], position
        spot = spots[variant % len(spots)]
        return content[spot : spot + 1], spot
    value_starts = [m.end() for m in re.finditer(rb'": "', content)]  # just inside a JSON string value
    key_starts = [m.end() for m in re.finditer(rb'(?:^\{|, )"', content)]  # just inside a JSON key
    if kind == "nul":
        if jsonl and variant % 2 and value_starts:
            return b"\\u0000", value_starts[variant % len(value_starts)]
        return b"\x00", position
    # a lone surrogate: as a JSON escape in a value or a key, or as the bytes of one (not UTF-8)
    if jsonl and variant % 4 == 0 and value_starts:
        return b"\\ud800", value_starts[variant % len(value_starts)]
    if jsonl and variant % 4 == 1 and key_starts:
        return b"\\udc80", key_starts[variant % len(key_starts)]
    return (b"\\ud800", b"\xed\xa0\x80", b"\x80", b"\xff")[variant % 4], position


def damage(delivery: Delivery, plan: list[tuple], header: bool = False) -> Damaged:
    lines = [dataclasses.replace(line) for line in delivery.lines]
    hit: set[int] = set()
    first = 1 if delivery.fmt != "jsonl" and not header else 0  # the CSV header only when asked
    if len(lines) <= first:
        return Damaged(delivery, lines, hit, plan)
    truncation = None
    for kind, at, position, variant in plan:
        index = first + at % (len(lines) - first)
        if kind == "truncate":
            truncation = (index, position)
            continue
        line = lines[index]
        if kind == "odd_line":
            text = ODD_LINES[variant % len(ODD_LINES)]
            text = "\x0c" if index == 0 and text == "\ufeff" else text  # a BOM at byte 0 is the encoding's mark
            odd = Line(text.encode(), line.ending or b"\n", "odd", None, 10_000 + len(lines))
            if index > 0 and lines[index - 1].row is not None and lines[index - 1].row == line.row:
                hit.add(line.origin)  # inside a record: that record is damaged
            lines.insert(index, odd)
            continue
        if kind == "chop":
            line.content = line.content[: position % len(line.content)] if line.content else b""
        else:
            inserted, spot = insertion(kind, variant, line.content, delivery, position % (len(line.content) + 1))
            if kind == "bom" and index == 0 and spot == 0:
                if not line.content:
                    continue  # at byte 0 of the file whatever the spot: the encoding's mark, not damage
                spot = 1  # a BOM at byte 0 is the encoding's mark, not damage
            line.content = line.content[:spot] + inserted + line.content[spot:]
            if spot == 0 and index > 0:
                hit.add(lines[index - 1].origin)  # a \n after a lone \r would join their endings
        hit.add(line.origin)
    if truncation:
        index, position = truncation
        whole = lines[index].content + lines[index].ending
        hit.update(line.origin for line in lines[index:])
        lines = [*lines[:index], Line(whole[: position % max(1, len(whole))], b"", "cut", None, lines[index].origin)]
    return Damaged(delivery, lines, hit, plan)


# ----------------------------------------------------------------------------------- the oracle, from the README

LINE_BREAK = re.compile(rb"\r\n|\r|\n")
LINE_BREAK_TEXT = re.compile(r"\r\n|\r|\n")


def physical_lines(data):
    """(start, content end, end) of each line: a line ends at \\n, \\r\\n or \\r; a last line without one counts."""
    pattern = LINE_BREAK if isinstance(data, bytes) else LINE_BREAK_TEXT
    out, start = [], 0
    for match in pattern.finditer(data):
        out.append((start, match.start(), match.end()))
        start = match.end()
    if start < len(data):
        out.append((start, len(data), len(data)))
    return out


CONTROL_BYTES = frozenset([*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def binary_by_readme(data: bytes) -> bool:
    """README: a text file is taken for binary only when its first line holds a NUL byte, or its first
    4 KiB hold 8 or more, or hold other control bytes with one."""
    lines = physical_lines(data)
    head = data[:4096]
    first_line = data[: lines[0][1]] if lines else b""
    return b"\x00" in first_line or head.count(0) >= 8 or (0 in head and any(b in CONTROL_BYTES for b in head))


def is_blank(content) -> bool:
    return all(c in (" \t" if isinstance(content, str) else b" \t") for c in content)


@dataclass
class Record:
    start: int
    end: int  # end of its content (before the line ending)
    first_line: int
    last_line: int
    fields: list[str]


@dataclass
class Tokens:
    records: list[Record]
    blank: int
    strays: list[int]  # lines holding a quote that is neither opening nor closing a field
    unclosed: int | None  # line the record with a quote never closed starts on


def tokenize_csv(text: str, start: int, delimiter: str) -> Tokens:
    """RFC 4180 records (a quote opens a field only at its start; a lone quote elsewhere is kept as text,
    as Python's csv reads it), with blank lines (spaces and tabs only) outside records skipped."""
    starts = [s for s, _, _ in physical_lines(text)]

    def line_of(i: int) -> int:
        return bisect_right(starts, i)

    tokens = Tokens([], 0, [], None)
    i, n, stops = start, len(text), (delimiter, "\r", "\n")
    while i < n:
        j = i
        while j < n and text[j] in " \t":
            j += 1
        if j == n or text[j] in "\r\n":
            tokens.blank += 1
            i = j + (2 if text.startswith("\r\n", j) else 1)
            continue
        begin, fields = i, []
        while True:
            value = []
            if i < n and text[i] == '"':
                i += 1
                while i < n and not (text[i] == '"' and not text.startswith('""', i)):
                    value.append(text[i])
                    i += 2 if text.startswith('""', i) else 1
                if i >= n:
                    tokens.unclosed = line_of(begin)
                    return tokens
                i += 1
                if i < n and text[i] not in stops:
                    tokens.strays.append(line_of(i))
            while i < n and text[i] not in stops:
                if text[i] == '"':
                    tokens.strays.append(line_of(i))
                value.append(text[i])
                i += 1
            fields.append("".join(value))
            if i < n and text[i] == delimiter:
                i += 1
                continue
            break
        tokens.records.append(Record(begin, i, line_of(begin), line_of(min(i, n - 1)), fields))
        i += 2 if text.startswith("\r\n", i) else 1
    return tokens


def pid(source: str, ref: str) -> str:
    message = (source + "\x1f" + ref.strip()).encode()
    return hmac.new(TEST_KEY.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Fate:
    kind: str  # stored or quarantined
    values: dict  # what was kept of the delivery (provenance left out)
    source_row: int
    pid: str | None
    reasons: tuple = ()

    def comparable(self) -> tuple:
        return (self.kind, self.values, self.reasons)


def fates_of(batch_id: str, participation: list[dict], quarantine: list[dict]) -> list[Fate]:
    out = []
    for lake_row in participation:
        if lake_row["batch_id"] == batch_id:
            kept = {k: v for k, v in lake_row.items() if k not in PROVENANCE}
            out.append(Fate("stored", kept, lake_row["source_row"], lake_row["participant_pid"]))
    for lake_row in quarantine:
        if lake_row["batch_id"] == batch_id:
            record = json.loads(lake_row["record"]) if lake_row["record"] else {}
            record = record if isinstance(record, dict) else {"(record)": record}
            values = {"record": record, "offending_values": lake_row["offending_values"]}
            out.append(Fate("quarantined", values, lake_row["source_row"], record.pop("participant_pid", None)))
            out[-1].reasons = tuple(lake_row["reasons"])
    return out


def record_id(fate: Fate) -> str | None:
    return (
        fate.values.get("source_record_id") if fate.kind == "stored" else fate.values["record"].get("source_record_id")
    )


def delivered_values(rows: list[dict]) -> list[str]:
    """Values a reason must never quote: ids, references, titles (long enough to be told apart)."""
    values = {v for r in rows for k, v in r.items() if k in ("source_record_id", "participant_ref", "activity_title")}
    return sorted(v for v in values if len(v.strip()) >= 6)


NAMES_A_PLACE = re.compile(
    r"\blines? \d+|\bstage (read|normalise|census|validate|store)\b|TXPIPE_[A-Z_]+"
    r"|only blank lines|\bempty\b|accounted for"
)


@dataclass
class Expect:
    """What the README says of one file's bytes."""

    lines: int  # physical lines, counted from the bytes
    reject_lines: set[int] | None = None  # the file must be rejected, its reason naming one of these lines
    may_reject: bool = False  # the README's rules allow a rejection (not UTF-8, a lone surrogate, a stray quote)
    physical: dict | None = None  # the exact `physical` record, where the attribution is unambiguous
    rows_read: int | None = None
    positions: dict[int, int] = dataclasses.field(default_factory=dict)  # intact row -> its source_row
    reasons_at: dict[int, str] = dataclasses.field(default_factory=dict)  # source_row -> a reason it must have
    all_positions: list[int] | None = None  # the source_row of every row read
    # records of empty fields whose field count is not the header's: a row (csv_field_count) or none
    optional_positions: list[int] = dataclasses.field(default_factory=list)


def byte_starts(lines: list[Line]) -> dict[int, int]:
    """Where each line (by origin) starts in the bytes."""
    out, offset = {}, 0
    for line in lines:
        out[line.origin] = offset
        offset += len(line.content) + len(line.ending)
    return out


def expect_csv(damaged: Damaged, record_lines: int) -> Expect:
    data = damaged.data()
    lines = physical_lines(data)
    expect = Expect(len(lines))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:  # README: rejected, naming the line of the first bad byte
        expect.reject_lines = {bisect_right([start for start, _, _ in lines], error.start)}
        return expect
    tokens = tokenize_csv(text, 1 if text.startswith("\ufeff") else 0, damaged.clean.delimiter)
    long = [r.first_line for r in tokens.records if r.last_line - r.first_line + 1 > record_lines]
    problem = long[0] if long else tokens.unclosed
    expect.may_reject = bool(tokens.strays)
    if problem is not None:  # README: a quote never closed, a record too long: rejected, naming where it starts
        expect.reject_lines = {problem} | {line for line in tokens.strays if line <= problem}
        return expect
    header, data_records = tokens.records[0], tokens.records[1:]
    empty = [r for r in data_records if not any(r.fields)]
    rows = [r for r in data_records if any(r.fields)]
    expect.may_reject |= not rows  # README: a delivery that holds no rows may be rejected
    if not tokens.strays:
        expect.rows_read = len(rows)
        expect.all_positions = [j + 2 for j, r in enumerate(data_records) if any(r.fields)]
        expect.optional_positions = [
            j + 2 for j, r in enumerate(data_records) if not any(r.fields) and len(r.fields) != len(header.fields)
        ]
        if not empty:
            spans = sum(r.last_line - r.first_line + 1 for r in rows)
            head = header.last_line - header.first_line + 1
            assert head + tokens.blank + spans == len(lines), "oracle: CSV lines do not add up"
            expect.physical = physical_record(len(lines), head, tokens.blank, spans, len(rows))
        for j, r in enumerate(data_records):
            if any(r.fields) and len(r.fields) != len(header.fields):
                expect.reasons_at[j + 2] = "csv_field_count"
            elif any("\x00" in value for value in r.fields):
                expect.reasons_at[j + 2] = "nul_character"
    by_start = {r.start: (j, r) for j, r in enumerate(data_records)}
    starts = byte_starts(damaged.lines)
    for index in damaged.intact_rows():
        own = [line for line in damaged.lines if line.row == index]
        first = len(data[: starts[own[0].origin]].decode())
        last = len(data[: starts[own[-1].origin] + len(own[-1].content)].decode())
        j, found = by_start.get(first, (None, None))
        if found is not None and found.end == last:  # not merged into another record by the damage
            assert found.fields == list(damaged.clean.rows[index].values()), "oracle: CSV fields misread"
            expect.positions[index] = j + 2
            expect.reasons_at.pop(j + 2, None)
    return expect


def physical_record(read: int, header: int, blank: int, rows: int, records: int) -> dict:
    return {"unit": "lines", "read": read, "header": header, "blank": blank, "rows": rows, "records": records}


def has_surrogate(value) -> bool:
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value)


def expect_jsonl(damaged: Damaged) -> Expect:
    data = damaged.data()
    lines = physical_lines(data)
    expect = Expect(len(lines), all_positions=[])
    number_at = {start: k for k, (start, _, _) in enumerate(lines, 1)}
    objects = 0
    for k, (start, end, _) in enumerate(lines, 1):
        content = data[start:end]
        if is_blank(content):
            continue
        expect.all_positions.append(k)
        try:
            value = json.loads(content.decode("utf-8"))
        except UnicodeDecodeError:
            expect.may_reject = True  # the README says what a CSV that is not UTF-8 does, not a JSON line
            continue
        except ValueError:  # README: a malformed line is quarantined with its line number, the rest goes on
            expect.reasons_at[k] = "json_line_malformed"
            continue
        objects += isinstance(value, dict)
        if not isinstance(value, dict):
            expect.reasons_at[k] = "json_record_not_object"
        elif has_surrogate(value):
            expect.may_reject = True  # README: a lone surrogate escape may crash a stage: the file is rejected
        elif any(isinstance(v, str) and "\x00" in v for v in value.values()):
            expect.reasons_at[k] = "nul_character"
    n, rows = len(lines), len(expect.all_positions)
    expect.may_reject |= not rows  # README: a delivery that holds no rows may be rejected
    expect.may_reject |= not objects  # README: JSON Lines in which no line holds an object is rejected
    expect.physical = physical_record(n, 0, n - rows, rows, rows)
    expect.rows_read = rows
    starts = byte_starts(damaged.lines)
    for index in damaged.intact_rows():
        (own,) = [line for line in damaged.lines if line.row == index]
        assert starts[own.origin] in number_at, "oracle: an intact JSON line does not start a line"
        expect.positions[index] = number_at[starts[own.origin]]
    return expect


def expect_of(damaged: Damaged, settings: Settings) -> Expect:
    if damaged.clean.fmt == "jsonl":
        return expect_jsonl(damaged)
    return expect_csv(damaged, settings.limits.record_lines)


# ------------------------------------------------------------------------------------------------- the judging


def judge_rejection(record, expect: Expect, fates: list[Fate], rows: list[dict], binary: bool) -> list[str]:
    reason = record.reason or ""
    problems = []
    if not reason.strip():
        problems.append("rejected without a reason")
    elif not NAMES_A_PLACE.search(reason):
        problems.append("the reason names no line, stage or limit")
    quoted = [value for value in delivered_values(rows) if value in reason]
    if quoted:
        problems.append(f"the reason quotes delivered values {quoted!r}")
    if (
        expect.reject_lines
        and not binary
        and not any(re.search(rf"\blines? {n}\b", reason) for n in expect.reject_lines)
    ):
        problems.append(f"the reason does not name line {' or '.join(map(str, sorted(expect.reject_lines)))}")
    if fates:
        problems.append(f"rejected, yet {len(fates)} row(s) of it are in the lake")
    return problems


def judge_accounting(record, expect: Expect, fates: list[Fate]) -> list[str]:
    physical = record.physical or {}
    problems = []
    if physical.get("read") != expect.lines:
        problems.append(f"physical read {physical.get('read')} but the bytes hold {expect.lines} line(s)")
    if physical.get("read") != sum(physical.get(k, 0) for k in ("header", "blank", "rows")):
        problems.append("physical: read != header + blank + rows")
    if physical.get("records") != record.rows_read:
        problems.append("physical: records != rows_read")
    if expect.physical is not None and physical != expect.physical:
        problems.append(f"physical {physical} but the lines are {expect.physical}")
    optional = expect.optional_positions
    if expect.rows_read is not None and not 0 <= record.rows_read - expect.rows_read <= len(optional):
        problems.append(f"rows_read {record.rows_read} but the file holds {expect.rows_read} record(s)")
    stored = sum(f.kind == "stored" for f in fates)
    if (stored, len(fates) - stored) != (record.rows_stored, record.rows_quarantined):
        problems.append(
            f"the lake holds {stored} stored and {len(fates) - stored} quarantined row(s), not the ledger's"
        )
    positions = sorted(f.source_row for f in fates)
    if expect.all_positions is not None and record.rows_duplicate == 0:
        extra = sorted(set(positions) - set(expect.all_positions) - set(optional))
        if len(set(positions)) != len(positions) or extra or set(expect.all_positions) - set(positions):
            problems.append(f"source_rows {positions} but the records are at {expect.all_positions}")
    for source_row, reason in sorted(expect.reasons_at.items()):
        there = [f for f in fates if f.source_row == source_row]
        if not any(f.kind == "quarantined" and reason in f.reasons for f in there):
            problems.append(f"the record at {source_row} should be quarantined as {reason}: {[f.kind for f in there]}")
    return problems


def judge_rows(source: str, rows: list[dict], expect: Expect, fates: list[Fate], reference: dict) -> list[str]:
    """Every intact row, as the clean delivery has it (its position and pseudonym are those of this file)."""
    problems = []
    for index, source_row in sorted(expect.positions.items()):
        wanted = rows[index]
        rid = wanted["source_record_id"]
        found = [f for f in fates if record_id(f) == rid]
        if len(found) != 1:
            problems.append(f"intact row {rid} is in the lake {len(found)} time(s)")
            continue
        (fate,) = found
        if fate.comparable() != reference[rid].comparable():
            problems.append(f"intact row {rid} changed: {fate} against {reference[rid]}")
        if fate.pid != pid(source, wanted["participant_ref"]):
            problems.append(f"intact row {rid}: participant_pid is not the README's HMAC")
        if fate.source_row != source_row:
            problems.append(f"intact row {rid}: source_row {fate.source_row}, not {source_row}")
    return problems


EXPECTED_NATION = {"GEO": "GEO", "Georgia": "GEO", "FRA": "FRA", "fr": "FRA", "NLD": "NLD", "Netherlands (the)": "NLD"}
FLAW_REASON = {"ZZZ": "nation_unknown", "bogus": "status_invalid", "101": "score_invalid"}


def judge_clean(delivery: Delivery, record, fates: list[Fate]) -> list[str]:
    """The clean delivery itself: stored, each row where the README's rules put it."""
    problems = [] if record.status == "stored" else [f"the clean delivery is {record.status}: {record.reason}"]
    by_id = {record_id(f): f for f in fates}
    for wanted in delivery.rows:
        fate = by_id.get(wanted["source_record_id"])
        flaw = next((FLAW_REASON[v] for v in wanted.values() if v in FLAW_REASON), None)
        if fate is None:
            problems.append(f"clean row {wanted['source_record_id']} is not in the lake")
        elif flaw and (fate.kind, flaw in fate.reasons) != ("quarantined", True):
            problems.append(f"clean row {wanted['source_record_id']} should be quarantined as {flaw}: {fate}")
        elif not flaw and (
            fate.kind != "stored" or any(fate.values[k].strip() != wanted[k].strip() for k in TEXT_COLUMNS)
        ):
            problems.append(f"clean row {wanted['source_record_id']} should be stored as delivered: {fate}")
        elif not flaw and fate.values["nation"] != EXPECTED_NATION[wanted["nation"]]:
            problems.append(f"clean row {wanted['source_record_id']}: nation {fate.values['nation']}")
    return problems


TEXT_COLUMNS = ("source_record_id", "activity_title", "provider", "status")


# ---------------------------------------------------------------------------------------------------- running


@pytest.fixture(scope="module")
def ingest_base(tmp_path_factory) -> tuple[Settings, IngestContext]:
    """Settings with the tests' pseudonym key and one IngestContext (reference, GX suite) for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TXPIPE_HOME", str(tmp_path_factory.mktemp("byte-mutation") / "home"))
        patch.setenv("TXPIPE_PSEUDONYM_KEY", TEST_KEY)
        settings = Settings.from_env()
    return settings, IngestContext.create(settings, "byte-mutation")


def ingest(base, files: dict[str, tuple[str, bytes]], chunk_rows: int = 7, record_lines: int | None = None):
    """Ingest every file (source -> (name, bytes)) in one run of a fresh home: records and lake fates by source."""
    settings, context = base
    run_id = f"bytes-{next(RUNS)}"
    limits = dataclasses.replace(settings.limits, record_lines=record_lines or settings.limits.record_lines)
    with tempfile.TemporaryDirectory(prefix="txpipe-bytes-") as tmp:
        settings = dataclasses.replace(settings, home=Path(tmp) / "home", chunk_rows=chunk_rows, limits=limits)
        landing = Path(tmp) / "landing"
        for source, (name, data) in files.items():
            (landing / source).mkdir(parents=True)
            (landing / source / name).write_bytes(data)
        context = dataclasses.replace(context, settings=settings, run_id=run_id)
        records = ingest_all(settings, landing, run_id=run_id, context=context)
        participation = read_parquet_rows(settings.lake / "participation")
        quarantine = read_parquet_rows(settings.lake / "quarantine")
    out = {}
    for source, (name, _) in files.items():
        mine = [r for r in records if (r.source, r.source_file) == (source, name)]
        out[source] = (mine, fates_of(mine[0].batch_id, participation, quarantine) if len(mine) == 1 else [])
    return settings, out


def judge(source: str, damaged: Damaged, settings: Settings, result, reference: dict) -> list[str]:
    records, fates = result
    if len(records) != 1:
        return [f"{len(records)} ledger record(s) for the delivery"]
    (record,) = records
    expect = expect_of(damaged, settings)
    binary = binary_by_readme(damaged.data())
    problems = [] if record.balanced else ["the ledger record does not balance"]
    if record.status == "rejected":
        problems += judge_rejection(record, expect, fates, damaged.clean.rows, binary)
        if expect.reject_lines is None and not expect.may_reject and not binary:
            problems.append("README: rejected, though no rule of the README rejects these bytes")
        return problems
    if expect.reject_lines is not None:
        problems.append(f"README: not rejected, though it must be (naming line {sorted(expect.reject_lines)})")
    problems += judge_accounting(record, expect, fates)
    return problems + judge_rows(source, damaged.clean.rows, expect, fates, reference)


def describe(source: str, data: bytes, what: str, result, problems: list[str]) -> str:
    records, _ = result
    record = records[0] if len(records) == 1 else None
    summary = (
        f"{record.status} rows_read={record.rows_read} stored={record.rows_stored} "
        f"quarantined={record.rows_quarantined} reasons={record.quarantine_reasons} "
        f"physical={record.physical} reason={record.reason!r}"
        if record
        else "no single record"
    )
    return f"\n== {source} {what}\n   {summary}\n   " + "\n   ".join(problems) + f"\n   bytes: {data!r}"


def run_and_judge(base, cases, chunk_rows: int) -> list[str]:
    """One run: each clean delivery and its damaged copies, each in its own source; the failures found."""
    files, damaged_files = {}, {}
    for b, (delivery, damage_plans) in enumerate(cases):
        name = f"delivery.{delivery.suffix}"
        files[f"clean{b}"] = (name, delivery.data())
        for d, plan in enumerate(damage_plans):
            damaged_files[f"damaged{b}x{d}"] = (b, damage(delivery, plan))
            files[f"damaged{b}x{d}"] = (name, damaged_files[f"damaged{b}x{d}"][1].data())
    settings, results = ingest(base, files, chunk_rows)
    failures = []
    for b, (delivery, _) in enumerate(cases):
        (record,), fates = results[f"clean{b}"]
        own = {record_id(f): f for f in fates}
        problems = judge(f"clean{b}", Damaged(delivery, delivery.lines, set(), []), settings, results[f"clean{b}"], own)
        problems += judge_clean(delivery, record, fates)
        if problems:
            failures.append(describe(f"clean{b}", delivery.data(), delivery.fmt, results[f"clean{b}"], problems))
    references = {b: {record_id(f): f for f in results[f"clean{b}"][1]} for b in range(len(cases))}
    for source, (b, damaged) in damaged_files.items():
        problems = judge(source, damaged, settings, results[source], references[b])
        if problems:
            what = f"{damaged.clean.fmt} damage {damaged.plan}"
            failures.append(describe(source, damaged.data(), what, results[source], problems))
    return failures


# ------------------------------------------------------------------------------------------------------ tests

CHUNK_ROWS = st.sampled_from([2, 3, 7, 100_000])  # rows per chunk: records across chunk boundaries (1 is slow)


@hyp_settings(max_examples=examples(100), **HYP)
@given(
    cases=st.tuples(*(st.tuples(deliveries(fmt), st.lists(plans, min_size=6, max_size=6)) for fmt in FORMATS)),
    chunk_rows=CHUNK_ROWS,
)
def test_byte_damage_keeps_every_undamaged_row_or_rejects_the_file(ingest_base, cases, chunk_rows):
    failures = run_and_judge(ingest_base, cases, chunk_rows)
    assert not failures, f"{len(failures)} file(s) fail; the first ones:" + "".join(failures[:4])


NAMES_A_HEADER_PLACE = re.compile(NAMES_A_PLACE.pattern + r"|\bcolumn|\bheader\b|\bfield")


def judge_header_damage(delivery: Delivery, data: bytes, result) -> list[str]:
    """Recorded, balanced; rejected with a reason that names a place and quotes no value, or accounted."""
    records, fates = result
    if len(records) != 1:
        return [f"{len(records)} ledger record(s) for the delivery"]
    (record,) = records
    problems = [] if record.balanced else ["the ledger record does not balance"]
    if record.status == "rejected":
        reason = record.reason or ""
        if not NAMES_A_HEADER_PLACE.search(reason):
            problems.append("the reason names no line, column, stage or limit")
        if quoted := [v for v in delivered_values(delivery.rows) if v in reason]:
            problems.append(f"the reason quotes delivered values {quoted!r}")
        return problems + ([f"rejected, yet {len(fates)} row(s) of it are in the lake"] if fates else [])
    expect = Expect(len(physical_lines(data)))
    return problems + judge_accounting(record, expect, fates)


@hyp_settings(max_examples=examples(40), **HYP)
@given(
    cases=st.lists(
        st.tuples(st.sampled_from(FORMATS[:2]).flatmap(deliveries), plans, st.integers(0, 10**6)),
        min_size=6,
        max_size=6,
    ),
    chunk_rows=CHUNK_ROWS,
)
def test_a_damaged_header_is_recorded_and_rejected_or_accounted(ingest_base, cases, chunk_rows):
    files = {}
    for index, (delivery, plan, position) in enumerate(cases):
        header_plan = [(plan[0][0], 0, position, plan[0][3]), *plan[1:]]
        files[f"header{index}"] = ("delivery.csv", damage(delivery, header_plan, header=True).data())
    _, results = ingest(ingest_base, files, chunk_rows)
    failures = []
    for index, (delivery, plan, _) in enumerate(cases):
        data = files[f"header{index}"][1]
        if problems := judge_header_damage(delivery, data, results[f"header{index}"]):
            failures.append(
                describe(f"header{index}", data, f"{delivery.fmt} damage {plan}", results[f"header{index}"], problems)
            )
    assert not failures, "".join(failures)


def spanning_rows(spans: list[int], line_break: str) -> list[dict]:
    """Rows whose title spans the given number of physical lines (line breaks inside a quoted value)."""
    return [
        row(
            source_record_id=f"R{j:04d}X",
            participant_ref=f"P-{j:05d}",
            activity_title="T" + line_break.join("x" * span),
        )
        for j, span in enumerate(spans)
    ]


@hyp_settings(max_examples=examples(30), **HYP)
@given(
    limit=st.integers(2, 6),
    cases=st.lists(
        st.tuples(
            st.sampled_from(FORMATS[:2]),
            st.lists(st.integers(1, 9), min_size=2, max_size=8),
            st.sampled_from(["\n", "\r\n", "\r"]),
        ),
        min_size=4,
        max_size=4,
    ),
)
def test_a_record_over_the_line_limit_rejects_the_file_naming_where_it_starts(ingest_base, limit, cases):
    """README (Limits): TXPIPE_MAX_RECORD_LINES, the physical lines one record may span; a longer record
    rejects the file with the line it starts on, and the reason names the limit and its variable."""
    deliveries_ = {
        f"limit{i}": build_delivery(fmt, spanning_rows(spans, brk)) for i, (fmt, spans, brk) in enumerate(cases)
    }
    files = {source: ("delivery.csv", d.data()) for source, d in deliveries_.items()}
    settings, results = ingest(ingest_base, files, record_lines=limit)
    failures = []
    for source, delivery in deliveries_.items():
        records, fates = results[source]
        own = {record_id(f): f for f in fates}
        problems = judge(source, Damaged(delivery, delivery.lines, set(), []), settings, results[source], own)
        if records and records[0].status == "rejected" and "TXPIPE_MAX_RECORD_LINES" not in (records[0].reason or ""):
            problems.append("the reason does not name TXPIPE_MAX_RECORD_LINES")
        if records and records[0].status != "rejected":
            problems += judge_clean(delivery, records[0], fates)
        if problems:
            failures.append(
                describe(source, delivery.data(), f"{delivery.fmt} limit {limit}", results[source], problems)
            )
    assert not failures, "".join(failures)


# ------------------------------------------------------------------------- failures found, as minimal bytes

HEAD = b"source_record_id,programme,activity_code,start_date,end_date,nation,status,participant_ref,activity_title\n"


def csv_row(number: int, title: bytes = b"t") -> bytes:
    return b"R%04dX,education,N5-35,2024-03-04,2024-03-08,GEO,passed,P-%05d,%s\n" % (number, number, title)


def test_not_utf8_the_reason_names_the_line_of_the_first_bad_byte(ingest_base):
    """README: a CSV that is not UTF-8 is rejected, naming the line of the first bad byte; a line ends
    at \\n, \\r\\n or \\r."""
    cases = {
        "bom_then_bad_byte_at_a_line_start": (BOM + HEAD + csv_row(1) + b"\x80" + csv_row(2), 3),
        "lone_cr_inside_a_quoted_value": (HEAD + csv_row(1, b'"a\rb"') + csv_row(2, b"x\x80y"), 4),
        "lone_cr_blank_line": (HEAD + csv_row(1) + b"\r" + csv_row(2, b"x\x80y"), 4),
        "ends_inside_a_character": (HEAD + csv_row(1) + csv_row(2, "xé".encode())[:-2], 3),
    }
    _, results = ingest(ingest_base, {name: ("delivery.csv", data) for name, (data, _) in cases.items()})
    failures = []
    for name, (_, line) in cases.items():
        ((record,), _) = results[name]
        if record.status != "rejected" or not re.search(rf"\bline {line}\b", record.reason or ""):
            failures.append(f"{name}: {record.status}, {record.reason!r}; the first bad byte is on line {line}")
    assert not failures, "\n".join(failures)


def test_a_line_of_one_character_that_is_not_space_or_tab_is_not_blank(ingest_base):
    """README: a blank line holds only spaces and tabs; a CSV's source_row counts records (empty lines
    skipped and not counted; a record of empty fields keeps its number). A line holding one BOM, form
    feed, NBSP or an empty quoted field is therefore no blank line: the row after it is record 4."""
    data = {odd: HEAD + csv_row(1) + odd.encode() + b"\n" + csv_row(2) for odd in ODD_LINES}
    _, results = ingest(ingest_base, {f"odd{i}": ("delivery.csv", d) for i, d in enumerate(data.values())})
    failures = []
    for i, odd in enumerate(data):
        ((record,), fates) = results[f"odd{i}"]
        positions = {rid: f.source_row for f in fates if (rid := record_id(f)) in ("R0001X", "R0002X")}
        if record.status != "stored":
            failures.append(f"{odd!r}: {record.status}, {record.reason!r}")
        elif positions != {"R0001X": 2, "R0002X": 4}:
            failures.append(f"{odd!r}: source_row {positions}, physical {record.physical}")
        elif odd != '""' and record.physical["blank"] != 0:  # the lines of a record of empty fields: not said
            failures.append(f"{odd!r}: physical {record.physical} counts it blank")
    assert not failures, "\n".join(failures)


def test_a_malformed_json_line_is_quarantined_with_its_line_number(ingest_base):
    """README: a malformed JSON Lines line is quarantined with its line number (blank lines counted) and
    the rest goes on; a file in which no line holds an object is rejected (its columns cannot be known),
    naming the line of the first malformed one."""
    good = json.dumps(row(source_record_id="R1")).encode()
    quarantined = {
        "after_blank_lines": (good + b'\n\n\n{"sourc', 4),
        "cut_short": (b"\n" + good[:-1] + b"\n" + good, 2),
    }
    rejected = {"alone_after_blank_lines": (b'\n\n\n{"sourc', 4), "alone": (b'{"source_record_id": "R1"\n', 1)}
    cases = quarantined | rejected
    _, results = ingest(ingest_base, {name: ("delivery.jsonl", data) for name, (data, _) in cases.items()})
    failures = []
    for name, (_, line) in cases.items():
        ((record,), fates) = results[name]
        malformed = [(f.kind, f.source_row, f.reasons) for f in fates if f.kind == "quarantined"]
        if name in quarantined and malformed != [("quarantined", line, ("json_line_malformed",))]:
            failures.append(f"{name}: {record.status} {record.reason!r} {fates}; the malformed line is line {line}")
        if name in rejected and (record.status != "rejected" or not re.search(rf"\bline {line}\b", record.reason)):
            failures.append(f"{name}: {record.status} {record.reason!r}; expected rejected naming line {line}")
    assert not failures, "\n".join(failures)


# -------------------------------------------------------------------------------- the reader alone, many examples


def read_rows(path: Path, chunk_rows: int) -> tuple[dict[int, dict], int, object]:
    """What the reader hands on: rows by source_row, the records counted (rows and issues), its physical counts."""
    delivered = read_delivery(path, ReadOptions(chunk_rows=chunk_rows))
    rows, records = {}, 0
    for batch in delivered.batches:
        records += len(batch.frame) + len(batch.issues)
        for position, values in zip(batch.frame.index, batch.frame.to_dict("records"), strict=True):
            rows[int(position)] = {k: (None if v is None or v is pd.NA else v) for k, v in values.items()}
    return rows, records, delivered.physical


@hyp_settings(max_examples=examples(1000), **HYP)
@given(
    delivery=st.sampled_from(FORMATS).flatmap(deliveries),
    plan=plans,
    chunk_rows=CHUNK_ROWS,
)
def test_the_reader_keeps_every_undamaged_row_or_rejects_the_file(delivery, plan, chunk_rows):
    """The same damage, through the reader alone (no run: 200 examples in `make test`, in seconds): the
    lines it attributes are the lines of the bytes, every row on an undamaged line is read as in the
    clean file at the position the README gives, or the file is rejected naming a place and no value."""
    damaged = damage(delivery, plan)
    settings = Settings.from_env({"TXPIPE_HOME": tempfile.gettempdir()})
    clean_expect = expect_of(Damaged(delivery, delivery.lines, set(), []), settings)
    expect = expect_of(damaged, settings)
    with tempfile.TemporaryDirectory(prefix="txpipe-reader-") as tmp:
        clean_path, damaged_path = Path(tmp) / f"clean.{delivery.suffix}", Path(tmp) / f"damaged.{delivery.suffix}"
        clean_path.write_bytes(delivery.data())
        damaged_path.write_bytes(damaged.data())
        clean_rows, _, _ = read_rows(clean_path, chunk_rows)
        try:
            rows, records, physical = read_rows(damaged_path, chunk_rows)
        except UnreadableFile as error:
            reason = str(error)
            assert NAMES_A_PLACE.search(reason) or "UTF-8" in reason or "not text" in reason, reason
            assert not [v for v in delivered_values(delivery.rows) if v in reason], reason
            rejectable = expect.reject_lines is not None or expect.may_reject or binary_by_readme(damaged.data())
            assert rejectable, f"rejected, though no rule of the README rejects these bytes: {reason}"
            return
        except Exception:  # a crash: the pipeline rejects the file (README "Bytes never block a run")
            return
    assert expect.reject_lines is None, f"read, though the README rejects it (line {sorted(expect.reject_lines)})"
    assert physical is not None and physical.balanced and physical.records == records, physical
    assert physical.read == expect.lines, (physical, expect.lines)
    columns = set(next(iter(clean_rows.values()), {}))
    for index in damaged.intact_rows():
        if index not in expect.positions or index not in clean_expect.positions:
            continue
        want = clean_rows.get(clean_expect.positions[index])
        got = rows.get(expect.positions[index])
        assert got is not None and {c: got.get(c) for c in columns} == want, (index, expect.positions[index], got, want)
