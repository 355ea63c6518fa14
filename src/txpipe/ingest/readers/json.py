"""JSON reader: an array of objects, or JSON Lines (one object per line).

In JSON Lines a malformed line is quarantined with its line number and the rest goes on. A
document that is broken as a whole, or that is not an array of objects, is rejected.
``source_row`` is the line number (JSON Lines) or the element's 1-based position (array). Every line
(JSON Lines) or top-level element (array, counted by lines.count_elements, not by the parser) is a
record handed on or blank, or the file is rejected (lines.PhysicalCounts).

A record that gives a key twice (compared as headers are: trimmed, without regard to case) is
quarantined as ``duplicate_key``, and one holding a NUL character as ``nul_character``
(:mod:`txpipe.ingest.readers.text_rules`). A number is read as written when a float would not hold
its exact value (``100.0000000000000000000001`` is not 100), so the rules judge what was delivered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from txpipe.ingest.readers import (
    BlankHeader,
    Delivered,
    RawBatch,
    ReadOptions,
    RowIssue,
    UnreadableFile,
    check_headers,
    drop_blank_rows,
    field_too_long,
    looks_like_a_name,
)
from txpipe.ingest.readers.lines import PhysicalCounts, count_elements, scan_text, unaccounted
from txpipe.ingest.readers.text_rules import RepeatedKeys, record_object

# A JSON object as parsed (its keys are text, its values any JSON), and one numbered by its place in
# the file (source_row: line number or array position).
JsonObject = dict[str, Any]
Numbered = tuple[int, JsonObject]


def value_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value).strip()
    return text or None


def read_json(path: Path, options: ReadOptions) -> Delivered:
    scan = scan_text(path, options.encoding)
    codec = scan.codec
    with open(path, encoding=codec) as handle:
        head = handle.read(4096).lstrip()
        while not head and (more := handle.read(1 << 20)):
            head = more.lstrip()
    if not head:
        raise UnreadableFile("the file holds no JSON value: only blank lines or whitespace")
    if head.startswith("["):  # an array is parsed whole (JSON Lines is the format for big deliveries)
        with open(path, encoding=codec) as handle:
            text = handle.read()
        counts = PhysicalCounts("elements", read=count_elements(text))
        records, issues, names = _array_records(text)
        return Delivered(names, _batches(records, issues, names, options, counts), physical=counts)
    names = _scan_lines(path, codec)
    counts = PhysicalCounts("lines", read=scan.lines, blank=scan.blank)
    return Delivered(names, _line_batches(path, codec, names, options, counts), physical=counts)


def _header_names(records: Iterable[JsonObject]) -> list[str]:
    headers: dict[str, str] = {}
    for record in records:
        for key in record:
            headers.setdefault(str(key).strip().casefold(), str(key).strip())
    return check_headers(list(headers.values())) if headers else []


def _parsed_lines(path: Path, codec: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value or the JSONDecodeError) for every non-blank line, streaming.
    (The value is Any, as JSON parses: a dict, list, str, int, float, bool or None.)"""
    with open(path, encoding=codec) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip(" \t\n"):  # a blank line (as the line scan counts it)
                continue
            try:
                yield number, _loads(line)
            except json.JSONDecodeError as error:
                yield number, error


def _scan_lines(path: Path, codec: str) -> list[str]:
    """First look at a JSON Lines file: its column names, or why it is not JSON Lines at all."""
    keys: dict[str, str] = {}
    records = 0
    first_line_broken = None
    first_line = 0
    for index, (number, value) in enumerate(_parsed_lines(path, codec)):
        if isinstance(value, json.JSONDecodeError):
            if index == 0:
                first_line_broken, first_line = value, number
        elif isinstance(value, dict):
            records += 1
            for key in value:
                keys.setdefault(str(key).strip().casefold(), str(key).strip())
    if first_line_broken is not None:
        # Perhaps not JSON Lines but one document spread over lines (its first line stops before its
        # value ends): judge it whole. A JSON Lines file with a garbled first line is not loaded whole.
        unfinished = first_line_broken.pos >= len(first_line_broken.doc.rstrip())
        document = _whole_document(path, codec) if unfinished else None
        if document is not None:
            raise UnreadableFile(
                f"the JSON document is a single {type(document).__name__}; deliver an array of objects or JSON Lines"
            )
        if not records:
            raise UnreadableFile(
                f"broken JSON: {first_line_broken.msg} on line {first_line}, and no line holds a JSON object "
                "(the file's columns cannot be known)"
            )
    if not records:
        raise UnreadableFile("no line holds a JSON object: deliver an array of objects or JSON Lines")
    return check_headers(list(keys.values()))


def _whole_document(path: Path, codec: str) -> Any:
    """The file parsed as one JSON document, or None if it is not one."""
    with open(path, encoding=codec) as handle:
        try:
            return _loads(handle.read())
        except json.JSONDecodeError:
            return None


def _line_batches(
    path: Path, codec: str, names: list[str], options: ReadOptions, counts: PhysicalCounts
) -> Iterator[RawBatch]:
    """Every line not blank is one record (a row or a quarantined line), but for an object of no value
    (``{}``, nulls or spaces), which is blank; at the end, the records and the blank lines must add up to
    the lines the scan counted, or the file is rejected (lines.PhysicalCounts)."""
    chunk: list[Numbered] = []
    issues: list[RowIssue] = []
    for number, value in _parsed_lines(path, codec):
        counts.records += 1
        if isinstance(value, json.JSONDecodeError):
            issues.append(
                RowIssue(number, "json_line_malformed", f"line {number}: {value.msg} at column {value.colno}")
            )
        elif isinstance(value, RepeatedKeys):
            issues.append(repeated_key_issue(number, f"line {number}", value))
        elif isinstance(value, dict) and not any(map(_a_value, value.values())):
            counts.records, counts.blank = counts.records - 1, counts.blank + 1  # {}: a blank line, not a row
        elif isinstance(value, dict):
            chunk.append((number, value))
        else:
            issues.append(
                RowIssue(
                    number, "json_record_not_object", f"line {number} holds a {type(value).__name__}, not an object"
                )
            )
        if len(chunk) + len(issues) >= options.row_built_chunk_rows:
            yield RawBatch(_frame(chunk, names, options.limits.field_chars), issues)
            chunk, issues = [], []
    if chunk or issues:
        yield RawBatch(_frame(chunk, names, options.limits.field_chars), issues)
    counts.rows = counts.records
    if not counts.balanced:
        raise unaccounted(counts)


def repeated_key_issue(source_row: int, where: str, record: RepeatedKeys) -> RowIssue:
    """The ``duplicate_key`` issue of a record that gives a key twice: the key when it looks like a
    column name, else the places of the two keys in the record."""
    first, again = record.places
    name = record.key.strip()
    said = (
        f"the key '{name}' is given more than once (keys {first} and {again} of the record)"
        if looks_like_a_name(name)
        else f"keys {first} and {again} of the record name the same column"
    )
    return RowIssue(
        source_row,
        "duplicate_key",
        f"{where}: {said}; keys are compared as column names are, without regard to case or surrounding spaces",
    )


def _frame(records: list[Numbered], names: list[str], field_chars: int) -> pd.DataFrame:
    keys = ["" if isinstance(n, BlankHeader) else n.casefold() for n in names]  # an empty key is read by ""
    folded = [{str(k).strip().casefold(): v for k, v in record.items()} for _, record in records]
    rows = [[value_text(rec.get(k)) for k in keys] for rec in folded]
    for row in rows:
        for position, value in enumerate(row, start=1):
            if value is not None and len(value) > field_chars:
                raise field_too_long(position, field_chars)
    frame = pd.DataFrame(rows, columns=names, dtype="string")
    frame.index = pd.Index([n for n, _ in records], name="source_row", dtype="int64")
    return drop_blank_rows(frame)


# Python refuses to turn more than 4,300 digits into an int (and it would be slow): a longer whole
# number stays text, which the rules then judge like any other delivered text.
_MAX_INT_DIGITS = 4000


def int_or_text(digits: str) -> int | str:
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else digits


def float_or_text(literal: str) -> float | str:
    """A JSON number with a fraction or exponent: the float, if the text it is read as
    (:func:`value_text`) is the number written; else the literal itself, which the rules then judge
    as delivered text (``100.0000000000000000000001``, ``1e400``, ``1e-400``)."""
    number = float(literal)
    shown = value_text(number)
    if shown == literal:
        return number
    try:
        same = shown is not None and Decimal(shown) == Decimal(literal)
    except InvalidOperation:  # an exponent beyond what Decimal holds
        same = False
    return number if same else literal


# One decoder for every record: long whole numbers and inexact floats stay text, repeated keys are marked.
_DECODER = json.JSONDecoder(parse_int=int_or_text, parse_float=float_or_text, object_pairs_hook=record_object)


def _loads(text: str) -> Any:
    """The JSON value of ``text`` (long whole numbers stay text); a JSONDecodeError if it is not JSON,
    UnreadableFile if it is nested too deeply to parse."""
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise UnreadableFile("the JSON is nested too deeply to be a roster") from None


def _array_records(text: str) -> tuple[list[Numbered], list[RowIssue], list[str]]:
    """The array's records, the issues of its other elements, and its column names (the keys of
    every object in it, those quarantined for a repeated key included, as in JSON Lines)."""
    try:
        document = _loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(f"broken JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    records: list[Numbered] = []
    issues: list[RowIssue] = []
    for position, element in enumerate(document, start=1):
        if isinstance(element, RepeatedKeys):
            issues.append(repeated_key_issue(position, f"element {position}", element))
        elif isinstance(element, dict):
            records.append((position, element))
        else:
            issues.append(
                RowIssue(
                    position,
                    "json_record_not_object",
                    f"element {position} is a {type(element).__name__}, not an object",
                )
            )
    return records, issues, _header_names(e for e in document if isinstance(e, dict))


def _a_value(value: Any) -> bool:
    """Whether a record's value is one (an object whose values are all null or spaces is blank, not a record)."""
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _batches(
    records: list[Numbered], issues: list[RowIssue], names: list[str], options: ReadOptions, counts: PhysicalCounts
) -> Iterator[RawBatch]:
    """The array's records in chunks, its other elements as issues. Every element counted is a record handed
    on (a row or an issue) or blank (an object without a value), or the file is rejected."""
    counts.records = len(issues)
    if not records:
        yield RawBatch(pd.DataFrame(columns=names, dtype="string"), issues)
    step = options.row_built_chunk_rows
    for start in range(0, len(records), step):
        chunk = records[start : start + step]
        frame = _frame(chunk, names, options.limits.field_chars)
        counts.blank += sum(1 for _, record in chunk if not any(map(_a_value, record.values())))
        counts.records += len(frame)
        yield RawBatch(frame, issues if start == 0 else [])
    counts.rows = counts.records
    if not counts.balanced:
        raise unaccounted(counts)
