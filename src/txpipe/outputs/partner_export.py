"""Partner-scoped marts: one nation's own metric rows plus overall totals, as Parquet and CSV.

Metric tables without a nation (partner coverage, fill rate) and per-exercise figures that mix
in other partners are not exported as they are; the exercise table is rebuilt from the
nation's own rows. Nothing in the export names or counts another nation.

Small-cell rule (as statistical offices apply it): an overall total over fewer than
``MIN_NATIONS`` nations is withheld (NULL, ``withheld`` true). With the partner itself and one
other nation in a cell, the total minus the partner's own figure would be the other nation's
figure; with one nation only, the total is that nation's figure. The partner dashboard applies
the same rule through the same SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

from txpipe.outputs.marts import write_csv_atomic
from txpipe.settings import Settings
from txpipe.store.lake import write_atomic
from txpipe.warehouse.publish import warehouse_path
from txpipe.warehouse.query import connect_read_only

PARTNER_SQL = Path(__file__).parent / "partner_sql"
MIN_NATIONS = 3  # a total over fewer nations is withheld from partner copies
TABLES = (
    "partner_metrics_participation",
    "partner_metrics_outcomes",
    "partner_metrics_gender",
    "partner_metrics_exercises",
    "partner_totals",
)


def run_sql(con: duckdb.DuckDBPyConnection, path: Path, params: Mapping[str, object]) -> duckdb.DuckDBPyRelation:
    """The SQL file at ``path`` as a relation, with those of ``params`` it names ($name) bound."""
    sql = path.read_text(encoding="utf-8")
    named = set(re.findall(r"\$(\w+)", sql))
    return con.sql(sql, params={k: v for k, v in params.items() if k in named} or None)


def export_partner_marts(settings: Settings, partner: str, out: Path | None = None) -> list[Path]:
    partner = partner.upper()
    out = out or settings.marts_dir / f"partner-{partner}"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with connect_read_only(warehouse_path(settings)) as con:
        if not con.execute("SELECT count(*) FROM nations WHERE code = ?", [partner]).fetchall()[0][0]:
            raise ValueError(f"{partner} is not a nation code in the warehouse")
        for name in TABLES:
            table = run_sql(
                con, PARTNER_SQL / f"{name}.sql", {"partner": partner, "min_nations": MIN_NATIONS}
            ).to_arrow_table()
            stem = name.removeprefix("partner_")
            written.append(write_atomic(table, out / f"{stem}.parquet"))
            written.append(write_csv_atomic(table, out / f"{stem}.csv"))
    return written
