"""What a delivery was judged under, and which held deliveries to judge again.

A delivery's rows are judged under its source's config, the source's roster (an xAPI source), the
reference data, the GX suite and txpipe's rules; for an xAPI source also under the voids that the
source's other exports issue (an LRS voids a statement after it made it, so a later export may void a
statement of an earlier one). Their fingerprint is recorded on the ledger record (``judged_under``).

When it changes, the next run judges the source's held deliveries again from the landing (the files
are still there), with no re-delivery: each is ingested as a new delivery of its file that keeps the
file's ``received_at`` (so that versions of a record keep their order), under the ledger's rules (a
stored one supersedes the earlier, a rejected one leaves it counting). ``txpipe reprocess`` asks for it
on demand. A held delivery whose file is gone, or holds other bytes now (then it is a new delivery), is
left as it is and reported.
"""

from __future__ import annotations

import hashlib
import stat
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from txpipe.ingest.landing import Delivery, Skipped, file_sha256
from txpipe.ingest.sources import SourceConfigError, load_source_config
from txpipe.ingest.xapi_rules import LEARNER_KEY_VERSION
from txpipe.settings import Settings
from txpipe.store.ledger import DeliveryRecord, Ledger

Key = tuple[str, str]  # (source, source_file)

# Bumped whenever a change of txpipe's rules changes how a delivered row is judged (its canonical values,
# its verdicts, its pid): every held delivery is then judged again once. 2: typed xAPI learner keys,
# canonical iteration ids, [dates] period, StatementRef and SubStatement objects ignored.
JUDGEMENT_VERSION = "2"


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _folder_bytes(folder: Path, pattern: str) -> list[bytes]:
    paths = sorted(folder.glob(pattern)) if folder.is_dir() else []
    return [part for path in paths for part in (path.name.encode(), path.read_bytes())]


def _sha256(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes() if path.is_file() and not path.is_symlink() else b"(none)"
    except OSError:
        return b"(unreadable)"


@dataclass
class Judgements:
    """The fingerprints of one landing and ledger, as a run sees them (made once per run)."""

    settings: Settings
    landing: Path
    ledger: Ledger
    _shared: str = ""
    _sources: dict[str, str] = field(default_factory=dict)
    _voids: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        self._shared = _digest(
            JUDGEMENT_VERSION.encode(),
            str(LEARNER_KEY_VERSION).encode(),
            *_folder_bytes(s.reference_dir, "*.csv"),
            *_folder_bytes(s.expectations_dir, "*.json"),
        )
        by_source: dict[str, dict[str, frozenset[str]]] = defaultdict(dict)
        for (source, source_file), record in self.ledger.counting().items():
            if record.voids:
                by_source[source][source_file] = frozenset(record.voids)
        self._voids = dict(by_source)

    def source(self, source: str) -> str:
        """What every delivery of the source is judged under: its config and roster, and what all share."""
        if source not in self._sources:
            config_path = self.settings.sources_dir / f"{source}.toml"
            roster = b""
            try:
                config = load_source_config(self.settings.sources_dir, source)
                if config.xapi.roster:
                    roster = _read(self.landing / source / config.xapi.roster)
            except SourceConfigError:
                pass  # the config's bytes are in the fingerprint: fixing it changes it
            self._sources[source] = _digest(self._shared.encode(), _read(config_path), roster)
        return self._sources[source]

    def voids(self, source: str, source_file: str) -> frozenset[str]:
        """The voids of the source's other held exports (fingerprints of the statement ids they void)."""
        others = self._voids.get(source, {})
        return frozenset().union(*(v for f, v in others.items() if f != source_file))

    def of(self, source: str, source_file: str) -> str:
        """The fingerprint a delivery of this file is judged under now."""
        voids = self.voids(source, source_file)
        if not voids:
            return self.source(source)
        return _digest(self.source(source).encode(), *sorted(v.encode() for v in voids))

    def prepared(self, delivery: Delivery) -> Delivery:
        """The delivery with what it is judged under, and the other exports' voids it applies."""
        return replace(
            delivery,
            judged_under=self.of(delivery.source, delivery.source_file),
            voids=self.voids(delivery.source, delivery.source_file),
        )

    def stale(
        self, sources: list[str] | None = None, forced: bool = False, new: frozenset[Key] = frozenset()
    ) -> tuple[list[Delivery], list[Skipped]]:
        """The held deliveries of ``sources`` (all when None) to judge again: those whose fingerprint
        changed, or all with ``forced``; ``new`` names files already found new. And the ones that cannot
        be, with why."""
        again: list[Delivery] = []
        left: list[Skipped] = []
        counting = self.ledger.counting()
        for key, record in sorted(self.ledger.current().items()):
            source, source_file = key
            if key in new or (sources and source not in sources):
                continue
            if not forced and record.judged_under == self.of(source, source_file):
                continue
            rejudged, why = self._again(record, counting.get(key))
            if rejudged is not None:
                again.append(self.prepared(rejudged))
            elif why:
                left.append(Skipped(f"{source}/{source_file}", why))
        return again, left

    def _again(self, record: DeliveryRecord, counting: DeliveryRecord | None) -> tuple[Delivery | None, str]:
        """The delivery that judges the record's file again, or why there is none."""
        path = self.landing / record.source / record.source_file
        try:
            st = path.lstat()  # a link is not followed: not a regular file, so gone from the closed world
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            held = counting is not None or record.status == "stored"
            return None, GONE if held else ""
        if (st.st_size, st.st_mtime_ns) != (record.size, record.mtime_ns) and _sha256(path) != record.sha256:
            return None, ""  # other bytes now: the survey finds it as a new delivery
        delivery = Delivery(
            record.source,
            path,
            record.source_file,
            record.sha256,
            st.st_size,
            st.st_mtime_ns,
            st.st_ino,
            received_at=record.received_at,
            rejudges=record.batch_id,
        )
        return delivery, ""


GONE = "held delivery not judged again: its file is no longer in the landing (it stays as it was judged)"
