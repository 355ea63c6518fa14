"""The development PostgreSQL of :mod:`txpipe.ops.services`: Debian's server binaries, one cluster per scratch folder.

PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` system user (commands
run through ``runuser``); as anyone else, to that user. It listens on 127.0.0.1 only, with its unix socket
in its own folder, and trusts loopback connections (a development server). The cluster lives in
``<scratch>/postgres``; when the ``postgres`` user cannot reach the scratch folder (pytest's 0700 tmp
root) it lives in a folder of its own under the system's temporary folder, linked from there.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from txpipe.ops.prefect_server import _alive
from txpipe.ops.services_process import ServicesError

OWNER = "postgres"  # the system user that owns the cluster when we run as root
SUPERUSER = "postgres"  # the database superuser initdb creates
DATABASES = ("prefect", "txpipe")
SOCKET_MAX = 100  # a unix socket path has at most 107 bytes (sun_path)


def bin_dir() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _major(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise ServicesError("no PostgreSQL server found (initdb): `make services-up` installs Debian's postgresql")
    return Path(initdb).parent


def _major(version: str) -> int:
    return int(version) if version.isdigit() else -1


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    try:
        pwd.getpwnam(OWNER)
    except KeyError:
        raise ServicesError(f"PostgreSQL cannot run as root and there is no {OWNER!r} user") from None
    return ["runuser", "-u", OWNER, "--", *command]


def _own(path: Path) -> None:
    """Hand a folder we made to the cluster's owner (a no-op unless we are root)."""
    if os.geteuid() == 0:
        user = pwd.getpwnam(OWNER)
        os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o700)


def _reachable(folder: Path) -> bool:
    if len(str(folder / "postgres" / "run" / ".s.PGSQL.65535")) > SOCKET_MAX:
        return False
    if os.geteuid() != 0:
        return True
    return subprocess.run(_as_owner(["test", "-x", str(folder)]), check=False).returncode == 0


def cluster_root(scratch: Path, create: bool = True) -> Path | None:
    """The cluster's folder (data/, run/ for the socket, log): ``<scratch>/postgres`` or where it links to."""
    link = scratch / "postgres"
    if link.is_symlink() or link.is_dir():
        return link.resolve()
    if not create:
        return None
    if _reachable(scratch):
        link.mkdir()
        root = link
    else:
        root = Path(tempfile.mkdtemp(prefix="txpipe-postgres-"))
        link.symlink_to(root, target_is_directory=True)
    _own(root)
    return root


def remove_outside_cluster(scratch: Path) -> None:
    """Delete a cluster that lives outside the scratch folder (and its link); run once it has stopped."""
    link = scratch / "postgres"
    if link.is_symlink():
        shutil.rmtree(link.resolve(), ignore_errors=True)
        link.unlink()


def _init(root: Path) -> None:
    data, run = root / "data", root / "run"
    for folder in (data, run):
        folder.mkdir(exist_ok=True)
        _own(folder)
    initdb = [str(bin_dir() / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
    subprocess.run(_as_owner([*initdb, "--locale=C", "--no-sync"]), check=True, capture_output=True)
    with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:  # stays the owner's file
        conf.write(f"\n# txpipe services\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{run}'\n")


def url(port: int, database: str, driver: str = "postgresql") -> str:
    return f"{driver}://{SUPERUSER}@127.0.0.1:{port}/{database}"


def start(scratch: Path, port: int) -> int:
    """Start the scratch folder's cluster on 127.0.0.1:port (made on first use); its postmaster's pid."""
    root = cluster_root(scratch)
    assert root is not None
    data = root / "data"
    if not (data / "PG_VERSION").exists():
        _init(root)
    pg_ctl = [str(bin_dir() / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60"]
    subprocess.run(_as_owner([*pg_ctl, "-o", f"-p {port}", "start"]), check=True, capture_output=True)
    return int((data / "postmaster.pid").read_text().split()[0])


def _psql(port: int, sql: str) -> str:
    psql = [str(bin_dir() / "psql"), "-X", "-q", "-tA", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER]
    done = subprocess.run([*psql, "-d", "postgres", "-c", sql], check=True, capture_output=True, text=True)
    return done.stdout


def create_databases(port: int) -> None:
    """Each of DATABASES that the cluster on 127.0.0.1:port lacks."""
    present = set(_psql(port, "SELECT datname FROM pg_database").split())
    for name in DATABASES:
        if name not in present:
            _psql(port, f'CREATE DATABASE "{name}"')


def stop(scratch: Path, pid: int, timeout: float = 60) -> bool:
    """`pg_ctl stop -m fast`; then its signal (SIGINT, fast shutdown) should the pid live on, then SIGQUIT
    (immediate shutdown). True once the pid is gone."""
    root = cluster_root(scratch, create=False)
    if root is not None and (root / "data").is_dir():
        pg_ctl = [str(bin_dir() / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "-w", "-t", str(int(timeout))]
        subprocess.run(_as_owner([*pg_ctl, "stop"]), check=False, capture_output=True)
    for sig in (None, signal.SIGINT, signal.SIGQUIT):
        if sig is not None and _alive(pid):
            os.kill(pid, sig)
        deadline = time.monotonic() + (5 if sig is None else timeout / 2)
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _alive(pid):
            return True
    return False
