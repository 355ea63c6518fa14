"""Canonical iteration ids in the warehouse (issue 24 item 8): one iteration counted once however it was
spelled, the delivered spelling kept beside it, and lake files written before the column existed."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conftest import SAMPLE_LANDING, ingest_all, row, write_csv
from txpipe.warehouse.publish import publish_warehouse


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory):
    """The shipped sample, ingested and published once for this module."""
    monkeypatch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("sample") / "home"
    monkeypatch.setenv("TXPIPE_HOME", str(home))
    monkeypatch.setenv("TXPIPE_PSEUDONYM_KEY", "test-pseudonym-key")
    from txpipe.settings import Settings

    settings = Settings.from_env()
    ingest_all(settings, SAMPLE_LANDING)
    path, _ = publish_warehouse(settings)
    yield path
    monkeypatch.undo()


def test_sample_exercise_iteration_is_one_row_whatever_its_spelling(sample_warehouse):
    """The sample delivers E3-450's 2025 iteration as E3-450-A-25, E3-450 A 2025, E3-450/A/2025, A-25 and
    2025-A: metrics_exercises (and so the dashboard) shows it once, with the partner nations of all of them."""
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        spellings = con.execute(
            """SELECT DISTINCT iteration_id_delivered FROM participation
               WHERE activity_code = 'E3-450' AND year(start_date) = 2025 ORDER BY 1"""
        ).fetchall()
        rows = con.execute(
            "SELECT iteration_id, partner_nations FROM metrics_exercises WHERE activity_code = 'E3-450' AND year = 2025"
        ).fetchall()
        nations = con.execute(
            """SELECT count(DISTINCT nation) FROM participation
               WHERE activity_code = 'E3-450' AND year(start_date) = 2025 AND programme = 'exercise'
                 AND is_attended(status) AND is_partner(framework)"""
        ).fetchone()[0]
        canonical = con.execute(
            """SELECT DISTINCT iteration_id FROM participation
               WHERE activity_code = 'E3-450' AND year(start_date) = 2025"""
        ).fetchall()
    assert len(spellings) >= 3  # the sample does spell it several ways
    assert canonical == [("E3-450-A-25",)]
    assert rows == [("E3-450-A-25", nations)]


def test_no_sample_iteration_is_counted_under_two_ids(sample_warehouse):
    """Every stored iteration id of the sample is in the catalogue's form, and none is split across years."""
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        odd = con.execute(
            """SELECT count(*) FROM participation WHERE iteration_id IS NOT NULL
               AND NOT starts_with(iteration_id, activity_code || '-')"""
        ).fetchone()[0]
        missing_spelling = con.execute(
            "SELECT count(*) FROM participation WHERE (iteration_id IS NULL) <> (iteration_id_delivered IS NULL)"
        ).fetchone()[0]
        fill = con.execute(
            "SELECT count(*) - count(DISTINCT (activity_code, iteration_id)) FROM metrics_fill_rate"
        ).fetchone()[0]
    assert odd == 0 and missing_spelling == 0 and fill == 0


def test_a_lake_written_before_the_column_rebuilds(settings, landing):
    """Lake files written before iteration_id_delivered existed lack it: a full rebuild reads them beside
    new ones (NULL there), and the warehouse still has the column."""
    write_csv(landing / "nso" / "old.csv", [row(iteration_id="n5-35/b/2024")])
    [old] = ingest_all(settings, landing)
    for name in old.files:  # as a txpipe before the change wrote it
        path = settings.lake / name
        pq.write_table(pq.read_table(path).drop_columns(["iteration_id_delivered"]), path)
    path, counts = publish_warehouse(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        only_old = con.execute("SELECT iteration_id, iteration_id_delivered FROM participation").fetchall()
    assert only_old == [("N5-35-B-24", None)]
    write_csv(landing / "nso" / "new.csv", [row(source_record_id="R2", iteration_id="2024 b")])
    ingest_all(settings, landing)
    path.unlink()  # a full rebuild, not an extension of the published file
    path, counts = publish_warehouse(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        both = con.execute(
            "SELECT source_record_id, iteration_id, iteration_id_delivered FROM participation ORDER BY 1"
        ).fetchall()
    assert both == [("R1", "N5-35-B-24", None), ("R2", "N5-35-B-24", "2024 b")]
    assert counts["participation"] == 2
