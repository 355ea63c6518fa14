"""Keyed pseudonymisation of participant references (HMAC-SHA256 of source and stripped ref).

The definition lives here (:meth:`Pseudonymizer.pid`); participant refs are pseudonymised in DuckDB by
``sql/participant_pids.sql`` with the pads :meth:`Pseudonymizer.sql_parameters` gives (tests/ingest/
test_ingest_sets.py holds the two equal for any ref). :meth:`Pseudonymizer.pid` itself makes the keyed
record ids of xAPI statements."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging

from txpipe.settings import DEVELOPMENT_PSEUDONYM_KEY

log = logging.getLogger(__name__)


@functools.cache
def _spaces() -> str:
    """Every character str.strip() removes (str.isspace), for the same strip in SQL."""
    return "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


class Pseudonymizer:
    """Turns (source, participant_ref) into participant_pid; holds the key, which is never stored."""

    def __init__(self, key: str | None) -> None:
        if not key:
            log.warning(
                "TXPIPE_PSEUDONYM_KEY is not set: using the DEVELOPMENT pseudonym key. "
                "Participant ids made with it are not protected; set the key in production."
            )
            key = DEVELOPMENT_PSEUDONYM_KEY
        self._key = key.encode("utf-8")
        self.is_development_key = key == DEVELOPMENT_PSEUDONYM_KEY
        # HMAC's (RFC 2104) two key pads, for the same HMAC in SQL.
        block = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
        block = block.ljust(64, b"\0")
        self._pads = (bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block))

    def sql_parameters(self, source: str) -> dict[str, object]:
        """What ``txpipe/ingest/sql/participant_pids.sql`` needs to compute :meth:`pid` in DuckDB:
        the HMAC pads, the message prefix and the characters ``str.strip`` removes. Only the
        process that holds the key passes them to its own in-memory DuckDB; they are never stored."""
        return {"ipad": self._pads[0], "opad": self._pads[1], "prefix": f"{source}\x1f", "spaces": _spaces()}

    def pid(self, source: str, participant_ref: str) -> str:
        message = f"{source}\x1f{participant_ref.strip()}".encode()
        return hmac.digest(self._key, message, "sha256").hex()
