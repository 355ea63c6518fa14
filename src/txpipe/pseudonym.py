"""Keyed pseudonymisation of participant references (HMAC-SHA256 of source and ref)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable

from txpipe.settings import DEVELOPMENT_PSEUDONYM_KEY

log = logging.getLogger(__name__)


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

    def pid(self, source: str, participant_ref: str) -> str:
        message = f"{source}\x1f{participant_ref.strip()}".encode("utf-8")
        return hmac.digest(self._key, message, "sha256").hex()

    def pids(self, source: str, refs: Iterable[str | None]) -> list[str | None]:
        """Pseudonymise a column; blank refs stay None (callers pass each distinct ref once)."""
        key, prefix, digest = self._key, f"{source}\x1f", hmac.digest
        out: list[str | None] = []
        append = out.append
        for ref in refs:
            stripped = ref.strip() if isinstance(ref, str) else ""
            append(digest(key, (prefix + stripped).encode("utf-8"), "sha256").hex() if stripped else None)
        return out
