"""Voided statements, within an export and across the exports of a source (README "xAPI sources").

An LRS issues a voiding statement after the statement it voids, so a later export may void a
statement of an earlier one. A void is held as a fingerprint of the voided statement's id
(:func:`void_fingerprint`): the ledger may keep an export's fingerprints, never the ids themselves,
and the reader applies the fingerprints of the source's other exports as it applies the export's own.

Statements are parsed JSON: nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from txpipe.ingest.readers.text_rules import RepeatedKeys
from txpipe.ingest.xapi_rules import VOIDED, JsonObject, problem

FINGERPRINT_HEX = 32  # hex digits of a fingerprint: the first 128 bits of the sha256


def void_fingerprint(statement_id: str) -> str:
    """The fingerprint of a statement id: the hex sha256 (first 32 digits) of the id stripped and in
    lower case (ids are UUIDs: case does not matter)."""
    return hashlib.sha256(statement_id.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:FINGERPRINT_HEX]


def voided_fingerprints(
    statements: Iterable[tuple[int, object]], extra_verbs: dict[str, str] | None = None
) -> set[str]:
    """The fingerprints of the statements voided by a valid voiding statement among ``statements``
    (one that breaks a rule voids nothing)."""
    return {
        void_fingerprint(s["object"]["id"])
        for _, s in statements
        if isinstance(s, dict)
        and isinstance(s.get("verb"), dict)
        and s["verb"].get("id") == VOIDED
        and not isinstance(s, RepeatedKeys)
        and problem(s, extra_verbs) is None
        and isinstance(s["object"].get("id"), str)
    }


def is_voided(statement: JsonObject, voided: set[str] | frozenset[str]) -> bool:
    """Whether the statement's own id is among the ``voided`` fingerprints."""
    own = statement.get("id")
    return bool(voided) and isinstance(own, str) and void_fingerprint(own) in voided
