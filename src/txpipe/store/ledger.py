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

KEPT_LABEL = "rejected, earlier delivery kept"


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
    kept: str | None = None  # a rejected re-delivery: the batch_id of the earlier delivery that still counts
    # what it was judged under (txpipe.ingest.judgement); a held delivery judged again names the batch it
    # judged again; an xAPI export lists the statements it voids (sha256 fingerprints of their ids)
    judged_under: str | None = None
    rejudged: str | None = None
    judged_at: str = ""  # when it was judged (its run's time; received_at stays the file's)
    voids: list[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        """The status as reports show it: a rejected re-delivery says that the earlier delivery still counts."""
        return KEPT_LABEL if self.status == "rejected" and self.kept else self.status

    @property
    def balanced(self) -> bool:
        rows = self.rows_read == self.rows_stored + self.rows_quarantined + self.rows_duplicate
        if self.physical is not None:
            p = {k: v for k, v in self.physical.items() if isinstance(v, int)}
            rows = rows and p["read"] == p["header"] + p["blank"] + p["rows"] and p["records"] == self.rows_read
        if self.statements is None:
            return rows
        s = self.statements
        return rows and s["read"] == s["used"] + s["ignored"] + s["quarantined"]


Key = tuple[str, str]  # (source, source_file)
EMPTY_REDELIVERY = (
    "the file holds no rows: a re-delivery with nothing in it does not delete what an earlier delivery of "
    "this file stored (to withdraw records, deliver them with status withdrawn or cancelled)"
)


@dataclass
class _Views:
    """Per file: the latest record not superseded (what the landing file was last seen as), and the
    stored record that counts (a rejected re-delivery never replaces it)."""

    latest: dict[Key, DeliveryRecord] = field(default_factory=dict)
    counting: dict[Key, DeliveryRecord] = field(default_factory=dict)

    def note(self, record: DeliveryRecord) -> None:
        key = (record.source, record.source_file)
        for view, eligible in (
            (self.latest, record.status != "superseded"),
            (self.counting, record.status == "stored"),
        ):
            known = view.get(key)
            if known is not None and known.batch_id == record.batch_id and not eligible:
                del view[key]
            elif eligible and (known is None or _order(record) >= _order(known)):
                view[key] = record


def _order(record: DeliveryRecord) -> tuple[str, str]:
    """Records of one file in the order they were made: received, then judged (a judgement again keeps the
    file's received_at)."""
    return record.received_at, record.judged_at


class Ledger:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._views: _Views | None = None  # read once, kept up to date

    def path(self, batch_id: str) -> Path:
        return self.directory / f"{batch_id}.json"

    def records(self) -> list[DeliveryRecord]:
        if not self.directory.exists():
            return []
        out = []
        for path in sorted(self.directory.glob("*.json")):
            out.append(DeliveryRecord(**json.loads(path.read_text(encoding="utf-8"))))
        return out

    def _read(self) -> _Views:
        """The ledger folder is read once per Ledger; this instance's own writes keep the views current
        (the run lock makes it the only writer), so committing N deliveries costs N writes, not N reads."""
        if self._views is None:
            self._views = _Views()
            for record in self.records():
                self._views.note(record)
        return self._views

    def current(self) -> dict[Key, DeliveryRecord]:
        """The latest record of each (source, source_file) not superseded: what its file was last seen as
        (a rejected re-delivery included, so that it is not read again until the file changes)."""
        return dict(self._read().latest)

    def counting(self) -> dict[Key, DeliveryRecord]:
        """The stored delivery that counts for each (source, source_file)."""
        return dict(self._read().counting)

    def _write(self, record: DeliveryRecord) -> None:
        write_text_atomically(self.path(record.batch_id), json.dumps(asdict(record), indent=2, sort_keys=True))
        if self._views is not None:
            self._views.note(record)

    def _supersede(self, record: DeliveryRecord, by: str) -> DeliveryRecord:
        record.status, record.superseded_by = "superseded", by
        self._write(record)
        return record

    def repair(self) -> list[DeliveryRecord]:
        """Mark superseded every record that a later one of the same file replaced (a stored one by a later
        stored one, a rejected one by any later one). Only needed after a run was killed between the
        writes of :meth:`commit`."""
        views = self._read()
        repaired = []
        for record in self.records():
            key = (record.source, record.source_file)
            later = {"stored": views.counting.get(key), "rejected": views.latest.get(key)}.get(record.status)
            if later is not None and later.batch_id != record.batch_id:
                repaired.append(self._supersede(record, later.batch_id))
        return repaired

    def commit(self, record: DeliveryRecord) -> list[DeliveryRecord]:
        """Record a delivery. A stored one supersedes the earlier stored delivery of its file; a rejected one
        (or one with no rows) never does: it says which earlier delivery is kept (``kept``). Either
        supersedes an earlier rejected record of the file. Returns the records superseded."""
        key = (record.source, record.source_file)
        views = self._read()
        counting, latest = views.counting.get(key), views.latest.get(key)
        if record.status == "stored" and record.rows_read == 0 and counting is not None:
            record.status, record.reason = "rejected", EMPTY_REDELIVERY
        if record.status == "rejected" and counting is not None:
            record.kept = counting.batch_id
        self._write(record)
        superseded = []
        if latest is not None and latest.status == "rejected" and latest.batch_id != record.batch_id:
            superseded.append(self._supersede(latest, record.batch_id))
        if record.status == "stored" and counting is not None and counting.batch_id != record.batch_id:
            superseded.append(self._supersede(counting, record.batch_id))
        return superseded
