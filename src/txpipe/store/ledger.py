"""The delivery ledger: one JSON record per delivered file, the lake's commit log.

A delivery's lake files count only once its ledger record says ``stored``; the record is
created (create-only: of two workers committing one batch, one wins) after all of them are in place,
and never rewritten: which record superseded which is derived when the ledger is read. A record names
the file (source and path inside the source folder), its sha256, what happened (stored, rejected, superseded)
and the row counts: rows_read = rows_stored + rows_quarantined + rows_duplicate, and, counted from the
bytes, its physical units (lines, JSON elements, sheet rows): read = header + blank + the units of its
rows, which are rows_read records. An xAPI export's
record also counts its statements: read = used + ignored + quarantined (its rows are the records the
used statements make, and the quarantined statements).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from txpipe.store.objects import Store, open_store

if TYPE_CHECKING:
    from txpipe.settings import Settings

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
            if eligible and (known is None or _order(record) >= _order(known)):
                view[key] = record


def _order(record: DeliveryRecord) -> tuple[str, str, str]:
    """Records of one file in the order they were made: received, then judged (a judgement again keeps the
    file's received_at); the batch id settles a tie the same way for every reader."""
    return record.received_at, record.judged_at, record.batch_id


def derive_supersession(records: list[DeliveryRecord]) -> list[DeliveryRecord]:
    """The records with what later records of their file did to them: a stored record is superseded by the
    next stored one, a rejected record by the next record of any kind. Records are never rewritten (each is
    created once, create-only), so who superseded whom is derived here, the same for every reader, whatever
    order workers committed in. A record that an older txpipe marked superseded stays so."""
    by_file: dict[Key, list[DeliveryRecord]] = {}
    for record in records:
        by_file.setdefault((record.source, record.source_file), []).append(record)
    for versions in by_file.values():
        versions.sort(key=_order)
        for i, record in enumerate(versions):
            later = versions[i + 1 :]
            if record.status == "stored":
                by = next((r for r in later if r.status == "stored"), None)
            elif record.status == "rejected":
                by = next(iter(later), None)
            else:
                continue
            if by is not None:
                record.status, record.superseded_by = "superseded", by.batch_id
    return records


LEDGER_PREFIX = "lake/deliveries/"


class Ledger:
    """The delivery records in a store (txpipe.store.objects), under ``lake/deliveries/<batch_id>.json``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._views: _Views | None = None  # read once, kept up to date

    @classmethod
    def of(cls, settings: Settings) -> Ledger:
        return cls(open_store(settings))

    @staticmethod
    def key(batch_id: str) -> str:
        return f"{LEDGER_PREFIX}{batch_id}.json"

    def names(self) -> list[str]:
        """The keys of every record: records are immutable, so the names say what the ledger holds."""
        return [o.key for o in self.store.listing(LEDGER_PREFIX) if o.key.endswith(".json")]

    def records(self) -> list[DeliveryRecord]:
        """Every record, its supersession derived (see derive_supersession)."""
        found = self.store.read_many(self.names())
        return derive_supersession([DeliveryRecord(**json.loads(data)) for _, data in sorted(found.items())])

    def _read(self) -> _Views:
        """The ledger is read once per Ledger; this instance's own commits keep the views current. Another
        worker's commits are seen by a new Ledger (each run makes one)."""
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

    def commit(self, record: DeliveryRecord) -> list[DeliveryRecord] | None:
        """Record a delivery by creating its record (create-only). A stored one supersedes the earlier stored
        delivery of its file; a rejected one (or one with no rows) never does: it says which earlier delivery
        is kept (``kept``). Either supersedes an earlier rejected record of the file. Returns the records
        superseded, or None when a record of this batch exists already (another worker committed the same
        delivery first: the caller removes its own lake files)."""
        key = (record.source, record.source_file)
        views = self._read()
        counting, latest = views.counting.get(key), views.latest.get(key)
        if record.status == "stored" and record.rows_read == 0 and counting is not None:
            record.status, record.reason = "rejected", EMPTY_REDELIVERY
        if record.status == "rejected" and counting is not None:
            record.kept = counting.batch_id
        if not self.store.create(
            self.key(record.batch_id), json.dumps(asdict(record), indent=2, sort_keys=True).encode()
        ):
            return None
        superseded = []
        for earlier in (latest, counting):
            replaced = earlier is not None and (earlier.status == "rejected" or record.status == "stored")
            if earlier is not None and replaced and earlier.status != "superseded":
                earlier.status, earlier.superseded_by = "superseded", record.batch_id
                superseded.append(earlier)
        gone = {r.batch_id for r in superseded}
        for view in (views.latest, views.counting):
            if key in view and view[key].batch_id in gone:
                del view[key]
        views.note(record)
        return superseded
