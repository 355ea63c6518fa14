"""The Parquet lake: valid rows by (programme, year), quarantined rows by source.

Every file is written under a temporary name and renamed into place, with one explicit Arrow
schema (``txpipe.schema``), so a reader never sees a half-written file and every file has
the same columns. Files are immutable: one per delivery and partition, named by batch_id.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from txpipe.schema import PARTICIPATION_SCHEMA, QUARANTINE_SCHEMA

TMP_PREFIX = ".tmp-"


def write_atomic(table: pa.Table, path: Path) -> Path:
    """Write Parquet to a hidden temporary name beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}")
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def participation_path(lake: Path, programme: str, year: int, batch_id: str) -> Path:
    return lake / "participation" / f"programme={programme}" / f"year={year}" / f"{batch_id}.parquet"


def quarantine_path(lake: Path, source: str, batch_id: str) -> Path:
    return lake / "quarantine" / f"source={source}" / f"{batch_id}.parquet"


def write_participation(table: pa.Table, lake: Path, batch_id: str) -> list[Path]:
    """Split a delivery's valid rows by programme and year of start_date; one file per partition."""
    table = table.cast(PARTICIPATION_SCHEMA)
    if table.num_rows == 0:
        return []
    years = pc.year(table["start_date"])
    keyed = table.append_column("_year", years)
    written = []
    for part in keyed.group_by(["programme", "_year"]).aggregate([]).to_pylist():
        mask = pc.and_(
            pc.equal(keyed["programme"], part["programme"]), pc.equal(keyed["_year"], part["_year"])
        )
        chunk = keyed.filter(mask).drop_columns(["_year"])
        path = participation_path(lake, part["programme"], part["_year"], batch_id)
        written.append(write_atomic(chunk, path))
    return sorted(written)


def write_quarantine(table: pa.Table, lake: Path, source: str, batch_id: str) -> list[Path]:
    table = table.cast(QUARANTINE_SCHEMA)
    if table.num_rows == 0:
        return []
    return [write_atomic(table, quarantine_path(lake, source, batch_id))]
