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
from txpipe.settings import Settings, unwritable_folder
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


def partner_code(partner: str) -> str:
    """The nation code a partner copy is made for (``" geo "`` is GEO). A blank code is refused (ValueError):
    every maker of partner copies calls this first, so no caller ever gets the all-partner copy by mistake
    (the full copy is asked for with no partner at all, None)."""
    code = partner.strip().upper() if isinstance(partner, str) else ""
    if not code:
        raise ValueError("a partner copy needs a nation code, e.g. GEO (a blank one is refused)")
    return code


def known_partner(con: duckdb.DuckDBPyConnection, partner: str) -> str:
    """``partner`` as a code of the warehouse's nations; one it does not hold is refused (ValueError)."""
    code = partner_code(partner)
    if not con.execute("SELECT count(*) FROM nations WHERE code = ?", [code]).fetchall()[0][0]:
        raise ValueError(f"{code} is not a nation code in the warehouse")
    return code


def export_partner_marts(settings: Settings, partner: str, out: Path | None = None) -> list[Path]:
    """The partner copy of the marts in ``out`` (default marts/partner-CODE/); a blank or unknown code, or a
    folder it cannot write in, is refused (ValueError) before anything is written."""
    partner = partner_code(partner)
    written = []
    with connect_read_only(warehouse_path(settings)) as con:
        partner = known_partner(con, partner)
        out = out or settings.marts_dir / f"partner-{partner}"
        if why := unwritable_folder(out, "the export folder"):
            raise ValueError(why)
        for name in TABLES:
            table = run_sql(
                con, PARTNER_SQL / f"{name}.sql", {"partner": partner, "min_nations": MIN_NATIONS}
            ).to_arrow_table()
            stem = name.removeprefix("partner_")
            written.append(write_atomic(table, out / f"{stem}.parquet"))
            written.append(write_csv_atomic(table, out / f"{stem}.csv"))
    return written
