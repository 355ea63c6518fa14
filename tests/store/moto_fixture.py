"""An S3-compatible server in this process (moto's ThreadedMotoServer on 127.0.0.1, a free port), one per
test session, and fresh buckets from it. moto enforces If-None-Match and If-Match as S3 does."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Development credentials for the in-process server only (moto accepts any); set before botocore reads them.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "txpipe-test",
    "AWS_SECRET_ACCESS_KEY": "txpipe-test-secret",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class MotoS3:
    endpoint: str

    def bucket(self) -> str:
        """A new, empty bucket."""
        import s3fs

        name = f"t{uuid.uuid4().hex[:20]}"
        s3fs.S3FileSystem(endpoint_url=self.endpoint, skip_instance_cache=True).mkdir(name)
        return name

    def fresh_store(self) -> tuple[str, str, dict[str, str]]:
        """(TXPIPE_STORE, TXPIPE_S3_ENDPOINT, credentials) of a new empty store."""
        return f"s3://{self.bucket()}/txpipe", self.endpoint, CREDENTIALS


def seaweedfs_store(services) -> tuple[str, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """(TXPIPE_STORE, TXPIPE_S3_ENDPOINT, credentials) of a new empty prefix of the services' SeaweedFS bucket."""
    env = services.environ()
    credentials = {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}
    return f"s3://{services.bucket}/t{uuid.uuid4().hex[:16]}", services.endpoint, credentials


SEAWEEDFS = pytest.param("seaweedfs", marks=[pytest.mark.deep, pytest.mark.integration])


def new_store(request, backend: str) -> tuple[str, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A new empty S3 store: moto in-process, or (deep tier) the project's SeaweedFS (make services-up)."""
    if backend == "moto":
        return request.getfixturevalue("moto_s3").fresh_store()
    return seaweedfs_store(request.getfixturevalue("services"))


@pytest.fixture(params=["moto", SEAWEEDFS])
def s3_store(request) -> tuple[str, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return new_store(request, request.param)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    from moto.server import ThreadedMotoServer

    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield MotoS3(f"http://{host}:{port}")
    finally:
        server.stop()
