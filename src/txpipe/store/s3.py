"""The store on an S3-compatible bucket (TXPIPE_STORE=s3://BUCKET/PREFIX), through fsspec's ``s3fs``.

Credentials come from the environment as botocore reads them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION); txpipe never reads, logs or passes them. The endpoint is TXPIPE_S3_ENDPOINT (unset: AWS).

- Objects are written to their final keys and become visible whole when complete (a single PUT, or a
  multipart upload completed on close): nothing is renamed.
- :meth:`S3Store.create` is ``If-None-Match: *``; :meth:`S3Store.swap` is ``If-Match: <ETag>`` (or
  create-only when there is nothing yet).
- :meth:`S3Store.check` refuses, in one line, a store that cannot be reached or read, and, before this
  process's first write to it, one that does not enforce both (a key that may only read never writes).
- A published build is opened from a local copy (DuckDB cannot open a database file on S3), kept under
  ``$TXPIPE_HOME/cache/store``: published keys are unique per build, so a copy never goes stale.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO, cast

import s3fs
from botocore.exceptions import BotoCoreError, ClientError

from txpipe.settings import parse_store
from txpipe.store.atomic import temporary_path
from txpipe.store.objects import Store, StoredObject, StoreError, Writer, download

PROBE_PREFIX = "_txpipe/probe-"
# botocore's "standard" retries (the AWS SDKs' default): 3 attempts with jittered backoff, so a store out of
# reach is refused in a few seconds rather than after the legacy mode's 5 attempts.
RETRIES = {"mode": "standard", "max_attempts": 3}


def _precondition_failed(error: BaseException) -> bool:
    """Whether the server refused a conditional write (HTTP 412). s3fs says FileExistsError only when the
    answer names the If-None-Match condition (AWS and moto do, SeaweedFS does not): the status decides."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ClientError):
            answer = seen.response
            return bool(
                answer.get("Error", {}).get("Code") == "PreconditionFailed"
                or answer.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412
            )
        seen = seen.__cause__ or seen.__context__
    return False


class _S3Writer(Writer):
    def __init__(self, fs: s3fs.S3FileSystem, path: str) -> None:
        self.file = cast(BinaryIO, fs.open(path, "wb"))

    def commit(self) -> None:
        self.file.close()  # completes the upload: the object appears whole

    def discard(self) -> None:
        handle = cast(Any, self.file)
        handle.discard()  # aborts the multipart upload; nothing appears
        handle.closed = True  # and nothing is uploaded when the handle is collected


class S3Store(Store):
    def __init__(self, url: str, endpoint: str | None, cache: Path, sweep_grace: float) -> None:
        self.bucket, self.prefix = parse_store(url)
        self.endpoint = endpoint
        self.cache = cache
        self.sweep_grace = sweep_grace
        self.fs = s3fs.S3FileSystem(
            endpoint_url=endpoint,
            use_listings_cache=False,
            skip_instance_cache=True,
            config_kwargs={"retries": RETRIES},
        )
        self._created: dict[str, bytes] = {}  # objects written once and never again (read_many)
        self._writable = False  # the write probe passed (check)

    def _path(self, key: str) -> str:
        return "/".join(part for part in (self.bucket, self.prefix, key) if part)

    def _key(self, path: str) -> str:
        root = self._path("")
        return path[len(root) + 1 :] if path.startswith(root + "/") else path

    def url(self, key: str) -> str:
        return f"s3://{self._path(key)}"

    def read_bytes(self, key: str) -> bytes:
        return cast(bytes, self.fs.cat_file(self._path(key)))

    def read_many(self, keys: list[str]) -> dict[str, bytes]:
        """Objects created once (ledger records), fetched concurrently; each is fetched once per process."""
        missing = [key for key in keys if key not in self._created]
        if missing:
            found = self.fs.cat([self._path(key) for key in missing], on_error="raise")
            self._created.update((self._key(path), data) for path, data in found.items())
        return {key: self._created[key] for key in keys}

    def listing(self, prefix: str) -> list[StoredObject]:
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self._path(prefix), detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            (
                StoredObject(self._key(path), int(info.get("size", 0)), info["LastModified"].timestamp())
                for path, info in found.items()
                if info.get("type") == "file"
            ),
            key=lambda o: o.key,
        )

    def exists(self, key: str) -> bool:
        return self.version(key) is not None

    def delete(self, keys: Iterable[str]) -> None:
        paths = [self._path(key) for key in keys]
        if paths:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(paths)

    def create(self, key: str, data: bytes) -> bool:
        self.check(write=True)
        try:
            self.fs.pipe_file(self._path(key), data, mode="create")
        except OSError as error:
            if _precondition_failed(error):
                return False
            raise
        return True

    def version(self, key: str) -> str | None:
        try:
            return str(self.fs.info(self._path(key), refresh=True)["ETag"])
        except FileNotFoundError:
            return None

    def swap(self, key: str, data: bytes, expected: str | None) -> bool:
        self.check(write=True)
        if expected is None:
            return self.create(key, data)
        try:
            self.fs.pipe_file(self._path(key), data, IfMatch=expected)
        except FileNotFoundError:  # nothing there to match (AWS and moto answer 404): not what was expected
            return False
        except OSError as error:
            if _precondition_failed(error):
                return False
            raise
        return True

    def writer(self, key: str) -> Writer:
        self.check(write=True)
        return _S3Writer(self.fs, self._path(key))

    def publish(self, files: dict[str, Path], build: str) -> dict[str, str]:
        self.check(write=True)
        keys = {}
        for name, local in files.items():
            keys[name] = f"builds/{build}/{name}"
            self.fs.put_file(str(local), self._path(keys[name]))
            kept = self.cache / keys[name]  # this host's copy: local_file need not fetch it back
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(local, kept)
        return keys

    def local_file(self, key: str) -> Path:
        return download(self, key, self.cache / key)

    def local_files(self, keys: list[str]) -> list[Path]:
        """The objects fetched concurrently into the cache, each once (keys of lake files are unique per
        attempt and never rewritten): each to a temporary name, then renamed, so a killed fetch leaves no
        partial file under a cached name. DuckDB then reads local files only: through DuckDB's fsspec bridge
        a 5M-row build from S3 once failed reading a Parquet page ("don't know what type"), which one file
        handle shared by DuckDB's threads would explain."""
        targets = [self.cache / key for key in keys]
        missing = [(key, target) for key, target in zip(keys, targets, strict=True) if not target.exists()]
        if missing:
            temporary = [temporary_path(target) for _, target in missing]
            for path in temporary:
                path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.fs.get([self._path(key) for key, _ in missing], [str(path) for path in temporary])
                for path, (_, target) in zip(temporary, missing, strict=True):
                    os.replace(path, target)
            finally:
                for path in temporary:
                    path.unlink(missing_ok=True)
        return targets

    def describe(self) -> str:
        return self.url("")

    def check(self, write: bool = True, key: str = "") -> None:
        """Refuse, in one line, a store that cannot be reached or read (the object ``key`` is looked up, or
        else the prefix listed), or (``write``) that does not enforce conditional writes. The write probe runs
        once per process, before this store's first write, so a key that may only read (an analyst's, a BI
        tool's) reads without it."""
        if write and self._writable:
            return
        where = f"TXPIPE_STORE {self.describe()}"
        try:
            if not write:
                if key:
                    self.version(key)
                else:
                    self.fs.call_s3("list_objects_v2", Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
                return
            self._writable = True  # the probe's own writes must not probe again
            try:
                promises = self._probe()
            except BaseException:
                self._writable = False
                raise
        except (OSError, ValueError, BotoCoreError, ClientError) as error:  # unreachable, no bucket, refused
            raise StoreError(f"{where} cannot be used: {type(error).__name__}") from None
        if promises:
            self._writable = False
            raise StoreError(f"{where} does not enforce {promises}: refused")

    def _probe(self) -> str | None:
        """Write, race and swap a probe object: which promise the store breaks, or None."""
        probe = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        first, second = self.create(probe, b"1"), self.create(probe, b"2")
        version = self.version(probe)
        stale = self.swap(probe, b"3", '"0"') if version != '"0"' else True
        fresh = self.swap(probe, b"4", version)
        self.delete([probe])
        if not (first and not second):
            return "create-only writes (If-None-Match: *)"
        if stale or not fresh:
            return "compare-and-swap writes (If-Match)"
        return None
