"""xAPI reader: an LRS export (statements) -> participation records in the landing format.

Shapes read (README "xAPI sources"): a JSON array of statements, JSON Lines (one statement per
line), a page of the Statement API (``{"statements": [...], "more": ...}``), an array of pages, or
JSON Lines of pages. JSON Lines is read twice, streaming: once for the voiding statements (only
lines that mention ``voided`` are parsed), once to make the records, so memory grows with the
records made, not the statements read. A statement's position (``source_row``) is its number in the
file counting from 1; a record's is the position of its first statement in the file.

A statement that gives a key twice in any of its objects (keys compared exactly) is marked as it is
parsed and quarantined as ``xapi_duplicate_key``; a page that gives one of its own keys twice rejects
the file (its statements could not all be counted).

The statements a rule quarantines come back as :class:`RowIssue` (rule, position, line); the records
come back as batches of landing rows, with ``participant_ref`` the learner's identifier (pseudonymised
by the pipeline before the chunk goes anywhere) and ``source_record_id`` a keyed hash. The source's
roster (``[xapi] roster``) is read by :mod:`txpipe.ingest.readers.xapi_roster`, re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TypeGuard

import pandas as pd

from txpipe.ingest.readers import Delivered, RawBatch, ReadOptions, RowIssue, UnreadableFile, field_too_long
from txpipe.ingest.readers.csv import check_text
from txpipe.ingest.readers.json import int_or_text
from txpipe.ingest.readers.text_rules import RepeatedKeys, StatementKeys, marked_statement
from txpipe.ingest.readers.xapi_roster import read_roster as read_roster  # re-exported: the pipeline reads it here
from txpipe.ingest.xapi_statements import RULES, XapiConfig, landing_rows, participations, voided_fingerprints
from txpipe.schema import LANDING_COLUMNS

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
_SNIFF_BYTES = 1 << 20


@dataclass
class StatementCounts:
    """Statements read = used + ignored + quarantined (filled once the batches are read)."""

    read: int = 0
    used: int = 0
    ignored: int = 0
    quarantined: int = 0


@dataclass(frozen=True)
class StatementSetup:
    """What reading a source's statements needs besides the file: its ``[xapi]`` config and
    ``[defaults]``, the keyed hash for ``source_record_id``, the roster (read only if needed) and the
    void fingerprints of the source's other exports. What the reading gives back besides the records:
    ``counts`` (once the batches are read) and ``void_targets``, the sorted fingerprints
    (:func:`~txpipe.ingest.xapi_voids.void_fingerprint`) of the statements this export voids (set
    when :func:`read_statements` returns, before any batch is read)."""

    config: XapiConfig
    defaults: dict[str, str]
    record_id: Callable[[str], str]
    roster: Callable[[], dict[str, str]] = dict
    forced: bool = False  # the config says format = "xapi": every file of the source is statements
    counts: StatementCounts = field(default_factory=StatementCounts)
    # fingerprints of statements voided by the source's other exports: removed as if voided here
    voided_elsewhere: frozenset[str] = frozenset()
    void_targets: list[str] = field(default_factory=list)  # filled by the reading: this export's own voids

    def voids(self, own: set[str]) -> set[str]:
        """Note the export's own void fingerprints (``void_targets``); every fingerprint to apply."""
        self.void_targets[:] = sorted(own)
        return own | self.voided_elsewhere


def is_statement_file(path: Path, setup: StatementSetup | None) -> bool:
    """Whether the file is read as statements: the source says so, or its first record (or page)
    holds actor, verb and object."""
    if path.suffix.lower() not in JSON_SUFFIXES:
        if setup is not None and setup.forced:
            raise UnreadableFile("an xAPI source delivers statements as JSON or JSON Lines (.json, .jsonl, .ndjson)")
        return False
    return (setup is not None and setup.forced) or _looks_like_statements(path)


def _looks_like_statements(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    start = 1 if head.startswith("[") else 0
    while start < len(head) and head[start] in " \t\r\n":
        start += 1
    try:
        first, _ = json.JSONDecoder().raw_decode(head, start)
    except (ValueError, RecursionError):
        return False
    return _is_page(first) or (isinstance(first, dict) and {"actor", "verb", "object"} <= set(first))


def _is_page(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether the value is a page of the Statement API (``{"statements": [...], "more": ...}``)."""
    return isinstance(value, dict) and isinstance(value.get("statements"), list) and "actor" not in value


def read_statements(path: Path, options: ReadOptions, setup: StatementSetup) -> Delivered:
    """The file's participation records as landing rows; quarantined statements as issues."""
    codec = check_text(path, options.encoding)
    with open(path, encoding=codec) as handle:
        head = handle.read(4096).lstrip()
    if not head:
        raise UnreadableFile("the file holds no JSON value: only blank lines or whitespace")
    if head.startswith("["):
        document = _document(path, codec)
        if not isinstance(document, list):
            raise UnreadableFile("the JSON document is not an array of statements")
        return _whole(((None, element) for element in document), options, setup)
    first = _first_value(path, codec)
    if isinstance(first, _Broken) and first.unfinished:  # perhaps one document over several lines
        document = _document(path, codec, quiet=True)
        if document is not None:
            return _whole([(None, document)], options, setup)
    mentions = ("voided", "\\u")  # a voiding statement names the voided verb (perhaps \u-escaped)
    voided = voided_fingerprints(
        ((p, s) for p, _, s in _flatten(_lines(path, codec, mentions)) if not isinstance(s, _Broken)),
        setup.config.verbs,
    )
    return Delivered(
        list(LANDING_COLUMNS),
        _batches(_flatten(_lines(path, codec)), setup.voids(voided), options, setup),
        setup.counts,
    )


def _whole(values: Iterable[tuple[int | None, object]], options: ReadOptions, setup: StatementSetup) -> Delivered:
    """A document read whole: its statements are listed, then searched for voiding ones."""
    items = list(_flatten(values))
    voided = setup.voids(voided_fingerprints(((p, s) for p, _, s in items), setup.config.verbs))
    return Delivered(list(LANDING_COLUMNS), _batches(iter(items), voided, options, setup, by_line=False), setup.counts)


@dataclass(frozen=True)
class _Broken:
    """A JSON Lines line that is not JSON; ``unfinished`` if the line ends before its value does
    (the first line of a document spread over several lines, which is then read whole)."""

    message: str
    unfinished: bool = False


def _document(path: Path, codec: str, quiet: bool = False) -> object:
    with open(path, encoding=codec) as handle:
        text = handle.read()
    try:
        return _Parser().decode(text, "the document")
    except json.JSONDecodeError as error:
        if quiet:
            return None
        raise UnreadableFile(f"broken JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise UnreadableFile("the JSON is nested too deeply to be an LRS export") from None


class _Parser:
    """A decoder for one pass over a file (long ints stay text), whose values come back with every
    statement that repeats a key at any depth marked (:func:`marked_statement`); only a value in
    which the decoder met a repeat is searched for one."""

    def __init__(self) -> None:
        self.keys = StatementKeys()
        self.decoder = json.JSONDecoder(parse_int=int_or_text, object_pairs_hook=self.keys.hook)

    def decode(self, text: str, where: str) -> object:
        repeats = self.keys.repeats
        value = self.decoder.decode(text)
        if self.keys.repeats == repeats:
            return value
        if isinstance(value, list):  # an array of statements or of pages
            return [self._marked(item, f"{where}, element {n}") for n, item in enumerate(value, start=1)]
        return self._marked(value, where)

    @staticmethod
    def _marked(value: object, where: str) -> object:
        if not _is_page(value):
            return marked_statement(value)
        if isinstance(value, RepeatedKeys):
            raise UnreadableFile(
                f"a page of statements ({where}) gives one of its keys more than once: its statements cannot be counted"
            )
        return {**value, "statements": [marked_statement(s) for s in value["statements"]]}


def _parse_line(number: int, line: str, parser: _Parser) -> object:
    try:
        return parser.decode(line, f"line {number}")
    except json.JSONDecodeError as error:
        unfinished = error.pos >= len(line.rstrip())
        return _Broken(f"line {number}: not JSON ({error.msg} at column {error.colno})", unfinished)
    except RecursionError:
        return _Broken(f"line {number}: nested too deeply")


def _first_value(path: Path, codec: str) -> object:
    return next((value for _, value in _lines(path, codec)), None)


def _lines(path: Path, codec: str, mentioning: tuple[str, ...] = ()) -> Iterator[tuple[int, object]]:
    """(line number, parsed value or _Broken) of every non-blank line; with ``mentioning``, only the
    lines holding one of those texts are parsed (the others are not needed)."""
    parser = _Parser()
    with open(path, encoding=codec) as handle:
        for number, line in enumerate(handle, start=1):
            if (not mentioning or any(text in line for text in mentioning)) and not line.isspace():
                yield number, _parse_line(number, line, parser)


def _flatten(values: Iterable[tuple[int | None, object]]) -> Iterator[tuple[int, int | None, object]]:
    """(position, line or None, statement) for every statement, pages opened; positions count from 1."""
    position = 0
    for line, value in values:
        for statement in value["statements"] if _is_page(value) else [value]:
            position += 1
            yield position, line, statement


def _batches(
    items: Iterator[tuple[int, int | None, object]],
    voided: set[str],
    options: ReadOptions,
    setup: StatementSetup,
    by_line: bool = True,
) -> Iterator[RawBatch]:
    """The records in batches of landing rows (the first batch also carries the quarantined
    statements); ``by_line``: JSON Lines, whose messages give each statement's line."""
    issues: list[RowIssue] = []
    lines: dict[int, int] = {}  # a statement's line, where it is not its position (pages, blank lines)

    def statements() -> Iterator[tuple[int, object]]:
        for position, line, statement in items:
            if isinstance(statement, _Broken):
                issues.append(RowIssue(position, "json_line_malformed", f"statement {position} ({statement.message})"))
                continue
            if line is not None and line != position:
                lines[position] = line
            yield position, statement

    config = setup.config
    outcome = participations(statements(), config.verbs, config.nation_extension, config.activities, voided)
    for problem in outcome.quarantined:
        line = lines.get(problem.position, problem.position) if by_line else None
        where = f"statement {problem.position}" + (f" (line {line})" if line is not None else "")
        issues.append(RowIssue(problem.position, problem.rule, f"{where}: {RULES[problem.rule]}"))
    lines.clear()
    counts = setup.counts
    counts.used, counts.ignored, counts.quarantined = outcome.used, outcome.ignored, len(issues)
    counts.read = counts.used + counts.ignored + counts.quarantined
    roster = setup.roster() if not config.nation and any(r.nation is None for r in outcome.records) else {}
    positions = [min(record.positions) for record in outcome.records]
    rows = landing_rows(outcome, config, setup.defaults, setup.record_id, roster)
    issues.sort(key=lambda issue: issue.source_row)
    start = 0
    while True:
        chunk = list(islice(rows, options.row_built_chunk_rows))
        if start and not chunk:
            return
        frame = _frame(chunk, positions[start : start + len(chunk)], options.limits.field_chars)
        yield RawBatch(frame, issues if start == 0 else [])
        if not chunk:
            return
        start += len(chunk)


def _frame(rows: list[dict[str, str | None]], positions: list[int], field_chars: int) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(LANDING_COLUMNS), dtype="string")
    for position, column in enumerate(frame.columns, start=1):
        longest = frame[column].str.len().max()
        if pd.notna(longest) and longest > field_chars:
            raise field_too_long(position, field_chars)
    frame.index = pd.Index(positions, name="source_row", dtype="int64")
    return frame
