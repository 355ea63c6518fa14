"""JSON reader: an array of objects, or JSON Lines (one object per line).

In JSON Lines a malformed line is quarantined with its line number and the rest goes on. A
document that is broken as a whole, or that is not an array of objects, is rejected.
``source_row`` is the line number (JSON Lines) or the element's 1-based position (array).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from txpipe.readers import (
    Delivered,
    RawBatch,
    ReadOptions,
    RowIssue,
    UnreadableFile,
    check_headers,
    drop_blank_rows,
)
from txpipe.readers.csv import check_text


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
    codec = check_text(path, options.encoding)
    with open(path, encoding=codec) as handle:
        text = handle.read()
    stripped = text.lstrip()
    if not stripped:
        raise UnreadableFile("the file holds only whitespace")
    if stripped.startswith("["):
        records, issues = _array_records(text)
    else:
        records, issues = _lines_records(text)
    headers: dict[str, str] = {}
    for _, record in records:
        for key in record:
            headers.setdefault(str(key).strip().casefold(), str(key).strip())
    names = check_headers(list(headers.values())) if headers else []
    return Delivered(names, _batches(records, issues, names, options))


def _loads(text: str):
    try:
        return json.loads(text)
    except RecursionError:
        raise UnreadableFile("the JSON is nested too deeply to be a roster") from None


def _array_records(text: str) -> tuple[list[tuple[int, dict]], list[RowIssue]]:
    try:
        document = _loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(
            f"broken JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    records, issues = [], []
    for position, element in enumerate(document, start=1):
        if isinstance(element, dict):
            records.append((position, element))
        else:
            issues.append(
                RowIssue(position, "json_record_not_object", f"element {position} is a {type(element).__name__}, not an object")
            )
    return records, issues


def _lines_records(text: str) -> tuple[list[tuple[int, dict]], list[RowIssue]]:
    records, issues = [], []
    first_line_failed = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = _loads(line)
        except json.JSONDecodeError as error:
            if not records and not issues:
                first_line_failed = error
            issues.append(RowIssue(number, "json_line_malformed", f"line {number}: {error.msg} at column {error.colno}"))
            continue
        if isinstance(value, dict):
            records.append((number, value))
        else:
            issues.append(RowIssue(number, "json_record_not_object", f"line {number} holds a {type(value).__name__}, not an object"))
    if first_line_failed is not None:
        # Perhaps a single document spread over lines rather than JSON Lines.
        try:
            document = _loads(text)
        except json.JSONDecodeError as error:
            if records:
                return records, issues  # JSON Lines whose first line is broken
            raise UnreadableFile(
                f"broken JSON: {error.msg} at line {error.lineno}, column {error.colno}"
            ) from None
        raise UnreadableFile(
            f"the JSON document is a single {type(document).__name__}; "
            "deliver an array of objects or JSON Lines"
        )
    if not records:
        raise UnreadableFile("no line holds a JSON object: deliver an array of objects or JSON Lines")
    return records, issues


def _batches(records, issues, names, options: ReadOptions) -> Iterator[RawBatch]:
    keys = [n.casefold() for n in names]
    if not records:
        yield RawBatch(pd.DataFrame(columns=names, dtype="string"), issues)
        return
    for start in range(0, len(records), options.chunk_rows):
        chunk = records[start : start + options.chunk_rows]
        folded = [{str(k).strip().casefold(): v for k, v in record.items()} for _, record in chunk]
        frame = pd.DataFrame(
            [[value_text(rec.get(k)) for k in keys] for rec in folded], columns=names, dtype="string"
        )
        frame.index = pd.Index([n for n, _ in chunk], name="source_row", dtype="int64")
        yield RawBatch(drop_blank_rows(frame), issues if start == 0 else [])
