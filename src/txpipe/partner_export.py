"""Partner-scoped marts: one nation's own metric rows plus overall totals, as Parquet and CSV.

Metric tables without a nation (partner coverage, fill rate) and per-exercise figures that mix
in other partners are not exported as they are; the exercise table is rebuilt from the
nation's own rows. Nothing in the export names or counts another nation.
"""

from __future__ import annotations

from pathlib import Path

from txpipe.lake import write_atomic
from txpipe.marts import write_csv_atomic
from txpipe.settings import Settings
from txpipe.warehouse.publish import warehouse_path
from txpipe.warehouse.query import connect_read_only

SQL_DIR = Path(__file__).parent / "partner_sql"
TABLES = ("partner_metrics_participation", "partner_metrics_outcomes", "partner_metrics_gender",
          "partner_metrics_exercises", "partner_totals")


def export_partner_marts(settings: Settings, partner: str, out: Path | None = None) -> list[Path]:
    partner = partner.upper()
    out = out or settings.marts_dir / f"partner-{partner}"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with connect_read_only(warehouse_path(settings)) as con:
        if not con.execute("SELECT count(*) FROM nations WHERE code = ?", [partner]).fetchall()[0][0]:
            raise ValueError(f"{partner} is not a nation code in the warehouse")
        for name in TABLES:
            sql = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
            table = con.sql(sql, params={"partner": partner} if "$partner" in sql else None).to_arrow_table()
            stem = name.removeprefix("partner_")
            written.append(write_atomic(table, out / f"{stem}.parquet"))
            written.append(write_csv_atomic(table, out / f"{stem}.csv"))
    return written
