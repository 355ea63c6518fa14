"""The landing: which delivered files are new, read as a closed world.

Files are delivered under ``landing/<source>/`` (sub-folders allowed). The landing is a closed
world: a symbolic link (to a file or a folder) is never followed and nothing that is not a
regular file is read (FIFOs, sockets, devices); each is reported as skipped with its path and why.
The landing root itself may be a link: it is where the operator pointed txpipe.

A file whose size and modification time match its ledger record is not read again (a re-run with
nothing new costs a directory listing, not a hash of every byte), unless what it was judged under
changed: then :mod:`txpipe.ingest.judgement` has it judged again.
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_module
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from txpipe.ingest.sources import not_deliveries
from txpipe.store.ledger import DeliveryRecord, Ledger


@dataclass(frozen=True)
class Delivery:
    source: str
    path: Path
    source_file: str  # path inside the source folder, POSIX style
    sha256: str
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0  # 0: unknown (a delivery made by hand); else compared before and after reading
    # what it is judged under (txpipe.ingest.judgement) and the voids of the source's other exports it applies
    judged_under: str = ""
    voids: frozenset[str] = frozenset()
    # a held delivery judged again: the batch it judges again, and when its file was received
    rejudges: str | None = None
    received_at: str | None = None

    @property
    def batch_id(self) -> str:
        """Content hash of the delivery: the same bytes under the same name give the same id; judging
        them again gives a new id (the batch it judges again and the fingerprint it is judged under)."""
        key = f"{self.source}\x1f{self.source_file}\x1f{self.sha256}"
        if self.rejudges:
            key += f"\x1f{self.rejudges}\x1f{self.judged_under}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Skipped:
    """An entry of the landing that is not read: where it is (relative to the landing root) and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class _Landed:
    source: str
    relative: str
    path: Path
    stat: os.stat_result


def _kind(entry: os.DirEntry[str]) -> str | None:
    """Why an entry is not read, or None for a regular file or folder."""
    if entry.is_symlink():
        return "symbolic link: not followed (the landing is a closed world)"
    mode = entry.stat(follow_symlinks=False).st_mode
    if stat_module.S_ISREG(mode) or stat_module.S_ISDIR(mode):
        return None
    return "not a regular file (FIFO, socket or device): not read"


def _walk(folder: Path, source: str, prefix: str, skipped: list[Skipped]) -> Iterator[_Landed]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        skipped.append(Skipped(f"{source}/{prefix}".rstrip("/"), "folder cannot be listed"))
        return
    for entry in entries:
        relative = f"{prefix}{entry.name}"
        why = _kind(entry)
        if why:
            skipped.append(Skipped(f"{source}/{relative}", why))
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), source, relative + "/", skipped)
        else:
            yield _Landed(source, relative, Path(entry.path), entry.stat(follow_symlinks=False))


def _source_folders(landing: Path, sources: list[str] | None, skipped: list[Skipped]) -> list[Path]:
    """The source folders under the landing root; every other entry there is listed as skipped with why
    (only a source folder's files are read: nothing at the root is lost without a line)."""
    if not landing.is_dir():
        return []
    folders = []
    for entry in sorted(os.scandir(landing), key=lambda e: e.name):
        if sources and entry.name not in sources:
            continue
        why = _kind(entry) or _outside_a_source(entry)
        if why:
            skipped.append(Skipped(entry.name, why))
        else:
            folders.append(Path(entry.path))
    return folders


def _outside_a_source(entry: os.DirEntry[str]) -> str | None:
    """Why a regular file or folder at the landing root is not read, or None for a source folder."""
    if not entry.is_dir(follow_symlinks=False):
        return "a file outside any source folder: not read (deliver it under <landing>/<source>/)"
    if entry.name.startswith("."):
        return "a hidden folder (its name starts with '.'): not a source, not read"
    return None


def scan(
    landing: Path, sources: list[str] | None = None, sources_dir: Path | None = None
) -> tuple[list[_Landed], list[Skipped]]:
    """Every regular file under ``landing/<source>/``, and every entry that is skipped. With
    ``sources_dir``, files its configs name as not deliveries (an xAPI source's roster) are skipped."""
    skipped: list[Skipped] = []
    files = []
    for folder in _source_folders(landing, sources, skipped):
        others = not_deliveries(sources_dir, folder.name) if sources_dir is not None else {}
        for landed in _walk(folder, folder.name, "", skipped):
            if landed.relative in others:
                skipped.append(Skipped(f"{landed.source}/{landed.relative}", others[landed.relative]))
            else:
                files.append(landed)
    return files, skipped


def skipped_entries(landing: Path, sources: list[str] | None = None, sources_dir: Path | None = None) -> list[Skipped]:
    return scan(landing, sources, sources_dir)[1]


def _changed(
    landing: Path, ledger: Ledger, sources: list[str] | None, sources_dir: Path | None
) -> Iterator[tuple[_Landed, DeliveryRecord | None]]:
    """Files whose size or modification time differ from their ledger record (or that have none)."""
    current = ledger.current()
    for landed in scan(landing, sources, sources_dir)[0]:
        known = current.get((landed.source, landed.relative))
        if known is None or (known.size, known.mtime_ns) != (landed.stat.st_size, landed.stat.st_mtime_ns):
            yield landed, known


def anything_new(
    landing: Path, ledger: Ledger, sources: list[str] | None = None, sources_dir: Path | None = None
) -> bool:
    """Whether any file may hold a new delivery (a directory listing; no file is read)."""
    return next(_changed(landing, ledger, sources, sources_dir), None) is not None


def file_sha256(path: Path) -> str:
    """The file's sha256, read without following a link (a link swapped in meanwhile fails to open)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def unchanged_since(delivery: Delivery) -> bool:
    """Whether the file is still the regular file, of the size and modification time, it was found with."""
    try:
        now = os.lstat(delivery.path)
    except OSError:
        return False
    return (
        stat_module.S_ISREG(now.st_mode)
        and (now.st_size, now.st_mtime_ns) == (delivery.size, delivery.mtime_ns)
        and (not delivery.inode or now.st_ino == delivery.inode)
    )


@dataclass(frozen=True)
class Survey:
    """What a look at the landing found: new deliveries, entries skipped for good, and files left
    for the next run because they changed while they were hashed (still being written)."""

    deliveries: list[Delivery]
    skipped: list[Skipped]
    deferred: list[Skipped]


def survey(landing: Path, ledger: Ledger, sources: list[str] | None = None, sources_dir: Path | None = None) -> Survey:
    """Files under ``landing/<source>/`` whose current content the ledger has not recorded.

    Every regular file in a source folder counts, hidden ones included, so that nothing delivered
    goes unaccounted.
    """
    files, skipped = scan(landing, sources, sources_dir)
    current = ledger.current()
    found, deferred = [], []
    for landed in files:
        st, known = landed.stat, current.get((landed.source, landed.relative))
        if known is not None and (known.size, known.mtime_ns) == (st.st_size, st.st_mtime_ns):
            continue
        delivery = Delivery(landed.source, landed.path, landed.relative, "", st.st_size, st.st_mtime_ns, st.st_ino)
        try:
            delivery = replace(delivery, sha256=file_sha256(landed.path))
        except OSError:
            deferred.append(
                Skipped(f"{landed.source}/{landed.relative}", "cannot be opened now: left for the next run")
            )
            continue
        if not unchanged_since(delivery):
            deferred.append(Skipped(f"{landed.source}/{landed.relative}", CHANGING))
        elif known is None or known.sha256 != delivery.sha256:
            found.append(delivery)
    return Survey(found, skipped, deferred)


CHANGING = "changed while it was read (still being written?): left for the next run"


def discover(
    landing: Path, ledger: Ledger, sources: list[str] | None = None, sources_dir: Path | None = None
) -> list[Delivery]:
    """The new deliveries of :func:`survey`."""
    return survey(landing, ledger, sources, sources_dir).deliveries
