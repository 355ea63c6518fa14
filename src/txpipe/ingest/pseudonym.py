"""Keyed pseudonymisation of participant references (HMAC-SHA256 of source and ref)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Iterable

from txpipe.settings import DEVELOPMENT_PSEUDONYM_KEY

log = logging.getLogger(__name__)


@functools.cache
def _spaces() -> str:
    """Every character str.strip() removes (str.isspace), for the same strip in SQL."""
    return "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


class Pseudonymizer:
    """Turns (source, participant_ref) into participant_pid; the raw ref never leaves here."""

    def __init__(self, key: str | None) -> None:
        if not key:
            log.warning(
                "TXPIPE_PSEUDONYM_KEY is not set: using the DEVELOPMENT pseudonym key. "
                "Participant ids made with it are not protected; set the key in production."
            )
            key = DEVELOPMENT_PSEUDONYM_KEY
        self._key = key.encode("utf-8")
        self.is_development_key = key == DEVELOPMENT_PSEUDONYM_KEY
        # HMAC (RFC 2104) with its two keyed SHA-256 states computed once: each pid then costs two
        # compressions instead of four (hmac.digest sets the key up again for every message).
        block = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
        block = block.ljust(64, b"\0")
        self._pads = (bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block))
        self._inner = hashlib.sha256(self._pads[0])
        self._outer = hashlib.sha256(self._pads[1])

    def sql_parameters(self, source: str) -> dict[str, object]:
        """What ``txpipe/ingest/sql/insert_delivered.sql`` needs to compute :meth:`pid` in DuckDB:
        the HMAC pads, the message prefix and the characters ``str.strip`` removes. Only the
        process that holds the key passes them to its own in-memory DuckDB; they are never stored."""
        return {"ipad": self._pads[0], "opad": self._pads[1], "prefix": f"{source}\x1f", "spaces": _spaces()}

    def pid(self, source: str, participant_ref: str) -> str:
        message = f"{source}\x1f{participant_ref.strip()}".encode()
        return hmac.digest(self._key, message, "sha256").hex()

    def pids(self, source: str, refs: Iterable[str | None]) -> list[str | None]:
        """Pseudonymise a column; blank refs stay None (callers pass each distinct ref once).
        Equal to :meth:`pid` for every ref, faster (see ``__init__``)."""
        prefix, new_inner, new_outer = f"{source}\x1f", self._inner.copy, self._outer.copy
        out: list[str | None] = []
        append = out.append
        for ref in refs:
            stripped = ref.strip() if isinstance(ref, str) else ""
            if not stripped:
                append(None)
                continue
            inner = new_inner()
            inner.update((prefix + stripped).encode("utf-8"))
            outer = new_outer()
            outer.update(inner.digest())
            append(outer.hexdigest())
        return out
