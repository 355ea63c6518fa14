"""Rules on delivered text that every reader applies the same way (README "What happens to each row").

- ``nul_character``: a record with a NUL character (``\\x00``) in any delivered value is quarantined,
  its message naming the column(s), never the value (:func:`quarantine_nul`, on a reader's batch,
  vectorised in Arrow and cheap when there is no NUL).
- ``duplicate_key``: a JSON object that gives a key more than once. ``json.loads`` would keep the last
  silently; :func:`record_object` and :meth:`StatementKeys.hook` are ``object_pairs_hook`` s that
  build the object as ``json`` does and mark it (:class:`RepeatedKeys`) when a key repeats. For records the
  keys are compared as headers are (trimmed, without regard to case) and only the record's own keys
  matter (a nested object is a value); for xAPI statements keys are compared exactly (xAPI's
  properties and extension IRIs are case-sensitive) at any depth (:func:`holds_repeated_keys`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest.readers import RawBatch, RowIssue, looks_like_a_name

NUL = "\x00"
_CLEAN_KEYS_LIMIT = 4096  # key tuples remembered as holding no repeat (records repeat their keys)
_clean_keys: dict[tuple[str, ...], None] = {}


def column_shown(name: str, position: int) -> str:
    """A delivered header for a message: its name when it looks like one, else its position."""
    return name if looks_like_a_name(name) else f"(column {position})"


def quarantine_nul(batch: RawBatch) -> RawBatch:
    """The batch without its records that hold a NUL character in any value; each becomes a
    ``nul_character`` issue naming the columns that hold one. The batch itself when none does."""
    frame = batch.frame
    found = {p: mask for p in range(frame.shape[1]) if (mask := _nul_rows(frame.iloc[:, p])) is not None}
    if not found:
        return batch
    names = [str(name) for name in frame.columns]
    rows = np.logical_or.reduce(list(found.values()))
    issues = list(batch.issues)
    for index in rows.nonzero()[0]:
        columns = ", ".join(column_shown(names[p], p + 1) for p, mask in found.items() if mask[index])
        source_row = int(frame.index[index])
        issues.append(
            RowIssue(source_row, "nul_character", f"row {source_row}: a NUL character in column(s) {columns}")
        )
    return RawBatch(frame[~rows], issues)


def _nul_rows(column: pd.Series) -> Any:
    """A boolean array of the rows whose value in ``column`` holds a NUL, or None if none does. A NUL is
    the only character whose UTF-8 holds a zero byte, so a column whose text bytes have none (in Arrow,
    without a copy) holds none; only a column that has one is searched value by value."""
    try:
        values = pa.array(column.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not text: readers deliver text, so nothing to search
        return None
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    if not any(_has_zero_byte(chunk.buffers()[-1]) for chunk in chunks):
        return None
    hits = pc.fill_null(pc.match_substring(values, NUL), False)
    if not pc.any(hits).as_py():
        return None  # the zero byte lay outside the values (a slice's buffer)
    return np.asarray(hits.to_pylist(), dtype=bool)


def _has_zero_byte(data: pa.Buffer | None) -> bool:
    return data is not None and data.size > 0 and int(np.frombuffer(data, np.uint8).min()) == 0


class RepeatedKeys(dict[str, Any]):
    """A JSON object that gives a key more than once, held as ``json`` holds it (the last value wins),
    with where the first repeat is: the key (as written the second time) and the 1-based positions of
    its two places among the object's keys (``(0, 0)`` when only a nested object repeats a key)."""

    key: str = ""
    places: tuple[int, int] = (0, 0)


def _repeated(pairs: list[tuple[str, Any]], fold: bool) -> RepeatedKeys:
    marked = RepeatedKeys(pairs)
    seen: dict[str, int] = {}
    for place, (key, _) in enumerate(pairs, start=1):
        name = key.strip().casefold() if fold else key
        if name in seen:
            marked.key, marked.places = key, (seen[name], place)
            break
        seen[name] = place
    return marked


def record_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for records: the object, marked when two keys name the same column."""
    built = dict(pairs)
    if len(built) == len(pairs):
        keys = tuple(built)
        if keys in _clean_keys:
            return built
        if len({key.strip().casefold() for key in keys}) == len(keys):
            if len(_clean_keys) >= _CLEAN_KEYS_LIMIT:
                _clean_keys.clear()
            _clean_keys[keys] = None
            return built
    return _repeated(pairs, fold=True)


class StatementKeys:
    """``object_pairs_hook`` for xAPI statements (:meth:`hook`): keys compared exactly; ``repeats``
    counts the objects that repeat one, so a caller walks a parsed value only when it holds one."""

    def __init__(self) -> None:
        self.repeats = 0

    def hook(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) == len(pairs):
            return built
        self.repeats += 1
        return _repeated(pairs, fold=False)


def holds_repeated_keys(value: object) -> bool:
    """Whether a parsed JSON value is, or holds at any depth, an object that repeats a key."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, RepeatedKeys):
            return True
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def marked_statement(statement: object) -> object:
    """The statement, as a :class:`RepeatedKeys` if it repeats a key at any depth (then it is
    quarantined as ``xapi_duplicate_key``)."""
    if isinstance(statement, dict) and not isinstance(statement, RepeatedKeys) and holds_repeated_keys(statement):
        return RepeatedKeys(statement)
    return statement
