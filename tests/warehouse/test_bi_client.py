"""A BI client on the published warehouse: SQLAlchemy (duckdb-sqlalchemy), read-only, as a dashboard tool
connects to it.

The shipped sample landing is built with the library (`run_pipeline`), once on the local store and once on an
S3-compatible store (moto; the local file is the copy `warehouse_path(settings)` resolves). Through the engine
`duckdb:///<path>` with `read_only=True` the client must see every object the contract names, reflect their
columns and COMMENTs, get from a SQLAlchemy Core GROUP BY the rows plain DuckDB SQL gives, and be refused any
write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.conftest import SAMPLE_LANDING, TEST_KEY
from txpipe.jobs.run_job import run_pipeline
from txpipe.settings import REPO_ROOT, Settings
from txpipe.warehouse.publish import warehouse_path

# The tables README's "Querying" names beside those of the contract's warehouse section.
README_TABLES = {"activities", "iterations"}
HEADLINE_SQL = (  # README's example query, written as `txpipe query` takes it
    "SELECT year, framework, sum(participants) AS participants "
    "FROM metrics_participation GROUP BY ALL ORDER BY year, framework"
)


def contract_tables() -> set[str]:
    """The objects docs/CONTRACT.md's "Warehouse" section lists (each bullet opens with its name)."""
    text = (REPO_ROOT / "docs" / "CONTRACT.md").read_text(encoding="utf-8")
    section = text.split("## Warehouse", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"^- `([a-z_]+)`:", section, flags=re.MULTILINE))
    assert {"participation", "quarantine", "deliveries", "nations", "metrics_participation"} <= names, names
    return names


def build_sample(settings: Settings) -> Path:
    """Ingest the sample landing and publish, with the library; the published warehouse as a local file."""
    report = run_pipeline(settings, SAMPLE_LANDING, run_id="bi-client")
    assert report.failure() is None, report.failure()
    path = warehouse_path(settings)
    assert path.is_file(), path
    return path


@pytest.fixture(scope="module")
def local_warehouse(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("bi-local") / "home"
    return build_sample(Settings.from_env({"TXPIPE_HOME": str(home), "TXPIPE_PSEUDONYM_KEY": TEST_KEY}))


@pytest.fixture
def s3_warehouse(moto_s3, tmp_path, monkeypatch) -> Path:
    store, endpoint, credentials = moto_s3.fresh_store()
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env(
        {
            "TXPIPE_HOME": str(tmp_path / "home"),
            "TXPIPE_PSEUDONYM_KEY": TEST_KEY,
            "TXPIPE_STORE": store,
            "TXPIPE_S3_ENDPOINT": endpoint,
        }
    )
    path = build_sample(settings)
    home, cache = tmp_path / "home", tmp_path / "home" / "cache" / "store"  # cache/store/: copies fetched for DuckDB
    lakes = [p for p in home.rglob("lake") if not p.is_relative_to(cache)]
    assert not lakes, "the lake belongs on the store, not under TXPIPE_HOME"
    return path


@contextmanager
def read_only_engine(path: Path) -> Iterator[Engine]:
    engine = sa.create_engine(f"duckdb:///{path}", connect_args={"read_only": True})
    try:
        yield engine
    finally:
        engine.dispose()


def plain_duckdb(path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def check_bi_client(path: Path) -> None:
    """Everything a BI tool does with the file, through SQLAlchemy only."""
    before = path.read_bytes()
    # Plain DuckDB first: one process may not hold the file open under two configurations (duckdb-sqlalchemy
    # sets its own), so the two never overlap.
    expected = plain_duckdb(path, HEADLINE_SQL)
    with read_only_engine(path) as engine:
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
        missing = (contract_tables() | README_TABLES) - tables
        assert not missing, f"tables the contract names but the BI client does not see: {sorted(missing)}"
        check_reflection(inspector, tables)
        check_group_by(engine, expected)
        check_no_write(engine)
    assert path.read_bytes() == before, "the warehouse changed under a read-only client"


def check_reflection(inspector: sa.Inspector, tables: set[str]) -> None:
    """Columns and COMMENTs reflect: README says every table and column carries one."""
    assert inspector.get_table_comment("participation")["text"], "participation has no table comment"
    columns = {c["name"] for c in inspector.get_columns("participation")}
    assert {"record_key", "nation", "framework", "participant_pid", "headcount", "status"} <= columns
    assert "participant_ref" not in columns
    uncommented = [t for t in sorted(tables) if not inspector.get_table_comment(t)["text"]]
    assert not uncommented, f"tables without a COMMENT: {uncommented}"
    bare = [f"{t}.{c['name']}" for t in sorted(tables) for c in inspector.get_columns(t) if not c.get("comment")]
    assert not bare, f"columns without a COMMENT: {bare}"


def check_group_by(engine: Engine, expected: list[tuple[object, ...]]) -> None:
    """README's headline query, written with SQLAlchemy Core, gives the rows plain DuckDB SQL gives."""
    metrics = sa.Table("metrics_participation", sa.MetaData(), autoload_with=engine)
    query = (
        sa.select(metrics.c.year, metrics.c.framework, sa.func.sum(metrics.c.participants).label("participants"))
        .group_by(metrics.c.year, metrics.c.framework)
        .order_by(metrics.c.year, metrics.c.framework)
    )
    with engine.connect() as connection:
        through_sqlalchemy = [tuple(r) for r in connection.execute(query)]
    assert len(expected) > 5 and through_sqlalchemy == expected


def check_no_write(engine: Engine) -> None:
    """A read-only engine refuses a write (and leaves no table behind)."""
    with engine.connect() as connection, pytest.raises(sa.exc.DBAPIError, match="read-only"):
        connection.execute(sa.text("CREATE TABLE bi_scratch (a INTEGER)"))
    assert "bi_scratch" not in sa.inspect(engine).get_table_names()


def test_a_bi_client_reads_the_local_warehouse_read_only(local_warehouse):
    check_bi_client(local_warehouse)


def test_a_second_read_only_client_may_read_beside_the_first(local_warehouse):
    """Two BI clients at once (one held open while the other connects): read-only connections share the file."""
    with read_only_engine(local_warehouse) as first, first.connect() as held:
        assert held.execute(sa.text("SELECT count(*) FROM participation")).scalar_one() > 0
        with read_only_engine(local_warehouse) as second:
            inspector = sa.inspect(second)
            assert "participation" in inspector.get_table_names()


@pytest.mark.deep  # the build on moto takes tens of seconds
def test_a_bi_client_reads_the_warehouse_published_on_s3_read_only(s3_warehouse, tmp_path):
    assert tmp_path in s3_warehouse.parents  # the local copy the store resolves, under TXPIPE_HOME
    check_bi_client(s3_warehouse)
