"""An S3-compatible server in this process (moto's ThreadedMotoServer on 127.0.0.1, a free port), one per
test session, and fresh buckets from it. moto enforces If-None-Match and If-Match as S3 does."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Development credentials for the in-process server only (moto accepts any); set before botocore reads them.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "txpipe-test", "AWS_SECRET_ACCESS_KEY": "txpipe-test-secret", "AWS_REGION": "us-east-1"}


@dataclass(frozen=True)
class MotoS3:
    endpoint: str

    def bucket(self) -> str:
        """A new, empty bucket."""
        import s3fs

        name = f"t{uuid.uuid4().hex[:20]}"
        s3fs.S3FileSystem(endpoint_url=self.endpoint, skip_instance_cache=True).mkdir(name)
        return name


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
