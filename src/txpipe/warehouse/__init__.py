"""The DuckDB warehouse: build a new file from lake + reference, publish it atomically, query it read-only."""

from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"
WAREHOUSE_FILE = "txpipe.duckdb"

METRIC_TABLES: tuple[str, ...] = (
    "metrics_participation",
    "metrics_outcomes",
    "metrics_gender",
    "metrics_partner_coverage",
    "metrics_exercises",
    "metrics_fill_rate",
)


def read_sql(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
