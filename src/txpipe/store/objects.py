"""Where txpipe keeps the lake, the ledger and the published builds: one interface, two backends.

Everything stored is named by a *key*, a ``/``-separated name under the store's root
(``lake/deliveries/<batch_id>.json``). The backends keep the same promises:

- an object is seen whole or not at all (:meth:`Store.writer`, :meth:`Store.create`, :meth:`Store.publish`);
- :meth:`Store.create` is create-only: of two writers of one key exactly one wins (the ledger's commits);
- :meth:`Store.swap` is compare-and-swap on a version (the published build's pointer).

:class:`LocalStore` is a folder (TXPIPE_HOME): temporary file and rename, create-only by a hard link,
compare-and-swap under a file lock. :class:`txpipe.store.s3.S3Store` is an S3-compatible bucket through
fsspec's ``s3fs``: multipart uploads visible only once complete, ``If-None-Match: *`` and ``If-Match``.
Which one a run uses is decided by :func:`open_store` from the settings, and nowhere else.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from txpipe.store.atomic import TMP_PREFIX, replace_atomically, temporary_path

if TYPE_CHECKING:
    from txpipe.settings import Settings


class StoreError(RuntimeError):
    """The store cannot be used: unreachable, refused, or not keeping its promises (one line, no secret)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: float  # seconds since the epoch


class Writer(ABC):
    """A file being written to its final key: nobody sees it until :meth:`commit`; :meth:`discard` drops it."""

    file: BinaryIO

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def discard(self) -> None: ...


class Store(ABC):
    """The operations txpipe needs of where it keeps things (see the module's doc)."""

    # How long a file that no ledger record names is left alone before it is swept: a shared store may
    # have another worker between writing a delivery's files and committing its record.
    sweep_grace: float = 0.0

    @abstractmethod
    def url(self, key: str) -> str:
        """Where the object is, for people: a path, or an ``s3://`` URL."""

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    def read_many(self, keys: list[str]) -> dict[str, bytes]:
        """Objects created once with :meth:`create` and never rewritten (a backend may keep them)."""
        return {key: self.read_bytes(key) for key in keys}

    @abstractmethod
    def listing(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with ``prefix`` (a folder: ends with ``/``), freshly listed."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, keys: Iterable[str]) -> None:
        """Remove the objects (missing ones are no error)."""

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Write ``data`` at ``key`` if nothing is there; False (and nothing written) if something is."""

    @abstractmethod
    def version(self, key: str) -> str | None:
        """What :meth:`swap` compares: changes whenever the object does; None when there is none."""

    @abstractmethod
    def swap(self, key: str, data: bytes, expected: str | None) -> bool:
        """Replace the object at ``key`` by ``data`` if its version is still ``expected`` (None: if there is
        none); False, and nothing written, if another writer got there first."""

    @abstractmethod
    def writer(self, key: str) -> Writer: ...

    @abstractmethod
    def publish(self, files: dict[str, Path], build: str) -> dict[str, str]:
        """Make local files visible under their names (``warehouse/txpipe.duckdb``); return the key each is
        published at. The files may be moved. ``build`` names the publication (unique per build)."""

    @abstractmethod
    def local_file(self, key: str) -> Path:
        """A local path holding the object (a published build is opened by DuckDB from a local file)."""

    def local_files(self, keys: list[str]) -> list[Path]:
        """Local paths holding the objects, in order: DuckDB reads only local files (lake files are immutable,
        so a backend may fetch each once and keep it)."""
        return [self.local_file(key) for key in keys]

    @abstractmethod
    def describe(self) -> str:
        """Where the store is, for people (no credentials)."""

    @abstractmethod
    def check(self, write: bool = True, key: str = "") -> None:
        """Raise StoreError (one line) if the store cannot be used: read (the object ``key``, when given), or
        (``write``) written with its promises kept."""


class _LocalWriter(Writer):
    def __init__(self, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        self.final, self.tmp = final, temporary_path(final)
        self.file = open(self.tmp, "wb")  # noqa: SIM115 - closed by commit or discard

    def commit(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.final)

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


class LocalStore(Store):
    """A folder: what txpipe did before object storage, through the same interface."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key

    def url(self, key: str) -> str:
        return str(self.path(key))

    def check(self, write: bool = True, key: str = "") -> None:
        """A folder is checked by the writes themselves (txpipe.settings.unwritable_folder)."""

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def listing(self, prefix: str) -> list[StoredObject]:
        folder = self.path(prefix) if not prefix or prefix.endswith("/") else self.path(prefix).parent
        if not folder.is_dir():
            return []
        found = []
        for path in folder.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix) and not path.name.startswith(TMP_PREFIX) and path.is_file():
                stat = path.stat()
                found.append(StoredObject(key, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def create(self, key: str, data: bytes) -> bool:
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_path(final)
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, final)  # atomic, and refused when the name exists
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def version(self, key: str) -> str | None:
        try:
            return hashlib.sha256(self.path(key).read_bytes()).hexdigest()
        except FileNotFoundError:
            return None

    def swap(self, key: str, data: bytes, expected: str | None) -> bool:
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(final.with_name(f".{final.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.version(key) != expected:
                return False
            replace_atomically(final, lambda tmp: tmp.write_bytes(data))
            return True

    def writer(self, key: str) -> Writer:
        return _LocalWriter(self.path(key))

    def publish(self, files: dict[str, Path], build: str) -> dict[str, str]:
        for name, local in files.items():
            target = self.path(name)
            if local != target:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(local, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(local, target)
                _fsync_dir(target.parent)
        return {name: name for name in files}

    def local_file(self, key: str) -> Path:
        return self.path(key)

    def describe(self) -> str:
        return str(self.root)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unique_key(key: str) -> str:
    """``key`` made unique per attempt (``a/b.parquet`` -> ``a/b.<12 hex>.parquet``): an attempt never
    writes over another's object."""
    head, dot, suffix = key.rpartition(".")
    return f"{head}.{uuid.uuid4().hex[:12]}.{suffix}" if dot else f"{key}.{uuid.uuid4().hex[:12]}"


def download(store: Store, key: str, target: Path) -> Path:
    """The object at ``key`` into the local file ``target`` (written whole, then renamed)."""
    if not target.exists():
        data = store.read_bytes(key)
        replace_atomically(target, lambda tmp: tmp.write_bytes(data))
    return target


def age(obj: StoredObject) -> float:
    """Seconds since the object was last written."""
    return time.time() - obj.modified


_OPEN: dict[tuple[str, str, str], Store] = {}


def open_store(settings: Settings) -> Store:
    """The store the settings name: TXPIPE_STORE (``s3://BUCKET/PREFIX``) or, unset, the folder TXPIPE_HOME,
    opened once per process. An S3 store is probed before its first write: it must enforce conditional
    writes (S3Store.check)."""
    if not settings.store:
        return LocalStore(settings.home)
    key = (settings.store, settings.s3_endpoint or "", str(settings.home))
    if key not in _OPEN:
        from txpipe.store.s3 import S3Store

        _OPEN[key] = S3Store(
            settings.store, settings.s3_endpoint, settings.home / "cache" / "store", settings.sweep_grace
        )
    return _OPEN[key]
