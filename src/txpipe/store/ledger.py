"""The delivery ledger: one JSON record per delivered file, the lake's commit log.

A delivery's lake files count only once its ledger record says ``stored``; the record is
written (atomically) after all of them are in place. A record names the file (source and
path inside the source folder), its sha256, what happened (stored, rejected, superseded)
and the row counts: rows_read = rows_stored + rows_quarantined + rows_duplicate, and, counted from the
bytes, its physical units (lines, JSON elements, sheet rows): read = header + blank + the units of its
rows, which are rows_read records. An xAPI export's
record also counts its statements: read = used + ignored + quarantined (its rows are the records the
used statements make, and the quarantined statements).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from txpipe.store.atomic import write_text_atomically


@dataclass
class DeliveryRecord:
    batch_id: str
    source: str
    source_file: str
    sha256: str
    received_at: str
    status: str  # stored | rejected | superseded
    rows_read: int = 0
    rows_stored: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    reason: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # rows quarantined as nation_unknown, by the closest reference nation ("Georgia (GEO)"; never the value)
    nation_suggestions: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    run_id: str = ""
    superseded_by: str | None = None
    # an xAPI export: statements read, used, ignored and quarantined (read = used + ignored + quarantined)
    statements: dict[str, int] | None = None
    # what the bytes hold, counted from them, and how the reader attributed it: unit (lines, elements,
    # sheet_rows), read = header + blank + rows (the units of its records), records = rows_read
    physical: dict[str, int | str] | None = None
    size: int = 0  # bytes and modification time when ingested: an unchanged file is not hashed again
    mtime_ns: int = 0

    @property
    def balanced(self) -> bool:
        rows = self.rows_read == self.rows_stored + self.rows_quarantined + self.rows_duplicate
        if self.physical is not None:
            p = self.physical
            rows = rows and p["read"] == p["header"] + p["blank"] + p["rows"] and p["records"] == self.rows_read
        if self.statements is None:
            return rows
        s = self.statements
        return rows and s["read"] == s["used"] + s["ignored"] + s["quarantined"]


def _note(current: dict[tuple[str, str], DeliveryRecord], record: DeliveryRecord) -> None:
    """Bring ``current`` (the delivery that counts per (source, source_file)) up to date with ``record``."""
    key = (record.source, record.source_file)
    known = current.get(key)
    if record.status == "superseded":
        if known is not None and known.batch_id == record.batch_id:
            del current[key]
    elif known is None or record.received_at > known.received_at or known.batch_id == record.batch_id:
        current[key] = record


class Ledger:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._current: dict[tuple[str, str], DeliveryRecord] | None = None  # read once, kept up to date

    def path(self, batch_id: str) -> Path:
        return self.directory / f"{batch_id}.json"

    def records(self) -> list[DeliveryRecord]:
        if not self.directory.exists():
            return []
        out = []
        for path in sorted(self.directory.glob("*.json")):
            out.append(DeliveryRecord(**json.loads(path.read_text(encoding="utf-8"))))
        return out

    def current(self) -> dict[tuple[str, str], DeliveryRecord]:
        """The delivery that counts for each (source, source_file): the latest not superseded.

        The ledger folder is read once per Ledger; this instance's own writes keep the answer
        current (the run lock makes it the only writer), so committing N deliveries costs N
        writes, not N reads of the whole ledger.
        """
        if self._current is None:
            current: dict[tuple[str, str], DeliveryRecord] = {}
            self._current = current
            for record in self.records():
                _note(current, record)
        return dict(self._current)

    def _write(self, record: DeliveryRecord) -> None:
        write_text_atomically(self.path(record.batch_id), json.dumps(asdict(record), indent=2, sort_keys=True))
        if self._current is not None:
            _note(self._current, record)

    def repair(self) -> list[DeliveryRecord]:
        """Mark superseded every record that a later one of the same file replaced.

        Only needed after a run was killed between the two writes of :meth:`commit`.
        """
        current = self.current()
        repaired = []
        for record in self.records():
            latest = current.get((record.source, record.source_file))
            if record.status != "superseded" and latest is not None and latest.batch_id != record.batch_id:
                record.status, record.superseded_by = "superseded", latest.batch_id
                self._write(record)
                repaired.append(record)
        return repaired

    def commit(self, record: DeliveryRecord) -> DeliveryRecord | None:
        """Record a delivery; an earlier delivery of the same file is marked superseded.

        Returns the superseded record, if any.
        """
        previous = self.current().get((record.source, record.source_file))
        self._write(record)  # the new record is now the current one for its file
        if previous is not None and previous.batch_id != record.batch_id:
            previous.status = "superseded"
            previous.superseded_by = record.batch_id
            self._write(previous)
            return previous
        return None
