"""The roster of an xAPI source: a CSV beside its exports (columns learner,nation), named by ``[xapi] roster``.

Statements seldom say where a learner is from; the roster does, for the records whose nation neither
the config nor the statements give (README "xAPI sources"). It is read only when such a record is
made, only as a regular file of bounded size, and never stored.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

from txpipe.ingest.readers import UnreadableFile
from txpipe.ingest.xapi_rules import account_key, split_account
from txpipe.settings import ReadLimits


def read_roster(folder: Path, name: str, limits: ReadLimits) -> dict[str, str]:
    """The roster CSV (columns learner,nation) in the source folder, as learner key (typed, as
    :func:`txpipe.ingest.xapi_rules.learner_id` makes it) -> nation.

    Only a regular file is opened (never a link, folder, FIFO or device), at most
    ``limits.roster_bytes`` (TXPIPE_MAX_ROSTER_BYTES); never stored. Anything wrong rejects the export."""
    where = f"the roster '{name}' (configured in [xapi] roster)"
    path = folder / name
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        raise UnreadableFile(f"{where} is not in the source folder: deliver it beside the export") from None
    except OSError:
        raise UnreadableFile(f"{where} cannot be read") from None
    if not stat.S_ISREG(found.st_mode):
        raise UnreadableFile(f"{where} is not a regular file (a link, folder, FIFO or device is never read)")
    try:  # O_NONBLOCK: should a FIFO be swapped in meanwhile, opening it does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        raise UnreadableFile(f"{where} cannot be opened (a link or not a file?)") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnreadableFile(f"{where} is not a regular file (a link, folder, FIFO or device is never read)")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limits.roster_bytes + 1)
    if len(data) > limits.roster_bytes:
        raise UnreadableFile(
            f"{where} holds more than {limits.roster_bytes:,} bytes (TXPIPE_MAX_ROSTER_BYTES): "
            f"{found.st_size:,} bytes found"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{where} is not UTF-8 text") from None
    return _roster_rows(text, where, limits.field_chars)


def _roster_rows(text: str, where: str, field_chars: int) -> dict[str, str]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().casefold() for h in next(reader, [])]
    if "learner" not in header or "nation" not in header:
        raise UnreadableFile(f"{where} needs the columns learner and nation in its header")
    learner_at, nation_at = header.index("learner"), header.index("nation")
    roster: dict[str, str] = {}
    first_row: dict[str, int] = {}
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(learner_at, nation_at):
                raise UnreadableFile(f"{where}: row {number} has {len(row)} field(s), fewer than its header")
            if any(len(cell) > field_chars for cell in row):
                raise UnreadableFile(f"{where}: row {number} has a field longer than {field_chars:,} characters")
            learner, nation = _learner_of_row(row[learner_at], where, number), row[nation_at].strip()
            if not learner or not nation:
                continue
            if roster.get(learner, nation) != nation:
                raise UnreadableFile(f"{where}: rows {first_row[learner]} and {number} give one learner two nations")
            roster[learner] = nation
            first_row.setdefault(learner, number)
    except csv.Error as error:
        raise UnreadableFile(f"{where}: not valid CSV near row {reader.line_num} ({type(error).__name__})") from None
    return roster


def _learner_of_row(value: str, where: str, number: int) -> str | None:
    try:
        return _roster_learner(value)
    except ValueError:
        raise UnreadableFile(
            f"{where}: row {number} gives an account (homePage|name) whose '|' is ambiguous: it needs exactly one "
            "'|' between homePage and name; write a '|' inside either as '\\|' (and a '\\' as '\\\\')"
        ) from None


def _roster_learner(value: str) -> str | None:
    """A roster's learner as the typed key :func:`txpipe.ingest.xapi_rules.learner_id` makes: ``mailto:...``
    is an mbox, 40 hex digits an mbox_sha1sum (any case), a value holding a ``|`` an account
    (``homePage|name``, a ``|`` or ``\\`` inside either written ``\\|`` or ``\\\\``), any other an openid
    URL. None for a blank learner or account part; a ValueError for an account whose ``|`` is ambiguous."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("mailto:"):
        return f"mbox:{value}"
    if len(value) == 40 and all(ch in "0123456789abcdefABCDEF" for ch in value):
        return f"mbox_sha1sum:{value.lower()}"
    if "|" not in value:
        return f"openid:{value}"
    parts = split_account(value)
    if parts is None:
        raise ValueError("ambiguous account")
    home, name = (part.strip() for part in parts)
    return account_key(home, name) if home and name else None
