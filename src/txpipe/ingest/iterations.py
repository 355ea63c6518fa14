"""Canonical iteration ids: one spelling per run of an activity, ``<ACTIVITY_CODE>-<LETTER>-<YY>``.

Offices write the same iteration many ways (``E3-450-A-25``, ``E3-450 A 2025``, ``E3-450/A/2025``,
``A-25``, ``2025-A``). The grammar (README, "Iteration ids") is read on the pair (the row's canonical
activity code, the iteration as normalised): :func:`canonical_iteration` is the rule for one pair, and
:func:`canonical_iterations` applies it to a chunk's columns once per distinct pair (rosters repeat pairs
heavily), in Arrow, with no Python object per row. An iteration the grammar does not recognise is left
as it was; the suite's ``iteration_id_malformed`` warning
(:mod:`txpipe.ingest.iteration_expectation`) then flags it.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

# The lake column that keeps the iteration as the row came with it (delivered, or the source's default).
DELIVERED = "iteration_id_delivered"
# Separators between the parts: runs of spaces, slashes, underscores, dots and hyphens.
SEPARATOR = re.compile(r"[ /_.\-]+")
_LETTER = re.compile(r"[A-Z]", re.ASCII)
# Two digits, or a year from 1900 to 2099 (written as its last two digits).
_YEAR = re.compile(r"[0-9]{2}|(?:19|20)[0-9]{2}", re.ASCII)


def canonical_iteration(activity_code: str | None, delivered: str | None) -> str | None:
    """The canonical id ``<activity_code>-<LETTER>-<YY>`` of an iteration of ``activity_code`` written
    ``delivered``, or None when the grammar does not recognise it (or either is missing).

    ``delivered`` is trimmed and upper-cased, then split at separators: it must be a letter and a year
    (either order), optionally preceded by the activity code itself (its hyphens written as any
    separator); a year of four digits is 1900-2099."""
    if not activity_code or not delivered:
        return None
    code = SEPARATOR.split(activity_code.upper())
    parts = SEPARATOR.split(delivered.strip().upper())
    if "" in code or "" in parts or len(parts) not in (2, len(code) + 2) or parts[:-2] not in ([], code):
        return None
    first, second = parts[-2:]
    letter, year = (first, second) if _LETTER.fullmatch(first) else (second, first)
    if not _LETTER.fullmatch(letter) or not _YEAR.fullmatch(year):
        return None
    return f"{activity_code}-{letter}-{year[-2:]}"


def canonical_iterations(codes: pa.Array | pa.ChunkedArray, iterations: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each row's canonical iteration id (:func:`canonical_iteration` of its activity code and iteration),
    or its iteration unchanged where the grammar does not recognise it: the rule runs once per distinct
    pair of the chunk (pairs are numbered from the two columns' dictionary indices)."""
    code_enc, iteration_enc = (pc.dictionary_encode(_whole(a)) for a in (codes, iterations))
    code_values = [*code_enc.dictionary.to_pylist(), None]  # the last: a missing value
    iteration_values = [*iteration_enc.dictionary.to_pylist(), None]
    width = len(iteration_values)
    code_index = pc.fill_null(code_enc.indices.cast(pa.int64()), len(code_values) - 1)
    iteration_index = pc.fill_null(iteration_enc.indices.cast(pa.int64()), width - 1)
    pairs = pc.dictionary_encode(pc.add(pc.multiply(code_index, width), iteration_index))
    out = []
    for key in pairs.dictionary.to_pylist():
        code, iteration = code_values[key // width], iteration_values[key % width]
        out.append(canonical_iteration(code, iteration) or iteration)
    return pc.take(pa.array(out, pa.string()), pairs.indices)


def _whole(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
