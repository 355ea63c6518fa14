"""One Prefect home per test session (the temporary Prefect server txpipe starts keeps its sqlite
database there, which the tests search for leaked values)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory):
    return tmp_path_factory.mktemp("hw-prefect-home")
