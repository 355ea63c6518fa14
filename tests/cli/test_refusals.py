"""Issue 23, through the real command line (`python -m txpipe` in a subprocess): what a command cannot
start with is ONE line, with a non-zero status, never a traceback.

- a TXPIPE_HOME it cannot write in (`run`, `ingest`, `build`, `dashboard`): status 2, the folder named;
- a Prefect API URL that answers nothing (`run`): status 2, the URL named, without its credentials;
- a blank `--partner` (`dashboard`, `export`): status 2, and no copy written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_LANDING, ingest_all, row, write_csv
from txpipe.settings import Settings
from txpipe.warehouse.publish import publish_warehouse

pytestmark = pytest.mark.integration
ROOT = os.geteuid() == 0


def txpipe(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TXPIPE_HOME": str(home), "TXPIPE_PSEUDONYM_KEY": "refusals", **env}
    return subprocess.run(
        [sys.executable, "-m", "txpipe", *args], env=environment, capture_output=True, text=True, timeout=300
    )


def refused_in_one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Status 2 and ONE line on stderr holding every fragment; no traceback anywhere."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(params=["mode 555", "a path through a regular file"])
def unwritable_home(request, tmp_path) -> Path:
    """A TXPIPE_HOME the command cannot write in. A folder of mode 555 binds every user but root (the tests
    may run as root, who writes there anyway, and no read-only mount can be made here). A path whose
    parent is a regular file binds root too: mkdir fails with ENOTDIR whoever asks."""
    if request.param == "mode 555":
        if ROOT:
            pytest.skip("root writes in a folder of mode 555; the path through a regular file is root's case")
        home = tmp_path / "home"
        home.mkdir()
        home.chmod(0o555)
        yield home
        home.chmod(0o755)
    else:
        (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
        yield tmp_path / "a-file" / "home"


@pytest.mark.parametrize("command", ["run", "ingest", "build", "dashboard"])
def test_a_home_it_cannot_write_in_is_refused_in_one_line(unwritable_home, command):
    extra = ["--landing", str(SAMPLE_LANDING)] if command in ("run", "ingest") else []
    result = txpipe(command, *extra, home=unwritable_home)
    line = refused_in_one_line(result, f"TXPIPE_HOME {unwritable_home} is not a writable folder")
    assert line.startswith("Not started: ") and result.stdout == ""


@pytest.fixture
def one_delivery(tmp_path) -> Path:
    """A landing with one new delivery: `txpipe run` has work to do, so it needs Prefect."""
    landing = tmp_path / "landing"
    (landing / "nso").mkdir(parents=True)
    shutil.copy(next(SAMPLE_LANDING.glob("*/*.csv")), landing / "nso")
    return landing


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:1/api", "http://127.0.0.1:1/api"),  # loopback, a port nothing listens on
        pytest.param("not-a-url", "not-a-url", marks=pytest.mark.deep),
        pytest.param("http://user:s3cret@127.0.0.1:1/api", "http://127.0.0.1:1/api", marks=pytest.mark.deep),
    ],
)
def test_a_prefect_api_that_answers_nothing_is_refused_in_one_line(one_delivery, tmp_path, url, shown):
    home = tmp_path / "home"
    result = txpipe("run", "--landing", str(one_delivery), home=home, PREFECT_API_URL=url)
    refused_in_one_line(result, f"Prefect's API at {shown} cannot be reached")
    assert "s3cret" not in result.stdout + result.stderr
    assert not list((home / "lake").rglob("*.json"))  # nothing was ingested


@pytest.fixture(scope="module")
def published_home(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("published")
    write_csv(root / "landing" / "ptec" / "roster.csv", [row()])
    settings = Settings.from_env({"TXPIPE_HOME": str(root / "home"), "TXPIPE_PSEUDONYM_KEY": "refusals"})
    ingest_all(settings, root / "landing")
    publish_warehouse(settings)
    return settings.home


@pytest.mark.parametrize("command", ["dashboard", "export"])
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_partner_is_refused_in_one_line_and_nothing_is_written(published_home, command, blank):
    before = set(published_home.rglob("*"))
    result = txpipe(command, "--partner", blank, home=published_home)
    assert result.returncode == 2, (result.stdout, result.stderr)
    said = (result.stdout + result.stderr).splitlines()
    assert len(said) == 1 and "needs a nation code" in said[0] and "Traceback" not in said[0], said
    assert set(published_home.rglob("*")) == before  # neither the all-partner copy nor anything else
