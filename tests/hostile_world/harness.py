"""Drive the real `txpipe` command line in a subprocess and collect everything a run leaves.

How txpipe is started is configurable, so the same tests can be pointed at another checkout:

    HOSTILE_WORLD_TXPIPE="env PYTHONPATH=/work/breaks-base/src:/work/breaks-base /work/main/.venv/bin/python -m txpipe"

(a shell-like command line, split with shlex; the subcommand and its options are appended).
Default: the project's `.venv/bin/txpipe`.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 600


def txpipe_command() -> list[str]:
    configured = os.environ.get("HOSTILE_WORLD_TXPIPE")
    if configured:
        return shlex.split(configured)
    script = REPO / ".venv" / "bin" / "txpipe"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "txpipe"]


def base_env(home: Path, prefect_home: Path, sources_dir: Path | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TXPIPE_", "PREFECT_"))}
    env.update(
        {
            "TXPIPE_HOME": str(home),
            "TXPIPE_PSEUDONYM_KEY": "hostile-world-key",
            "TXPIPE_CHUNK_ROWS": "7",
            "TXPIPE_WORKERS": "2",
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            # a very wide console: a value must not escape the leak search by being wrapped
            "COLUMNS": "1000",
        }
    )
    if sources_dir is not None:
        env["TXPIPE_SOURCES_DIR"] = str(sources_dir)
    env.update(extra)
    return env


@dataclass
class RunResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float

    def text(self) -> str:
        return (self.stdout + b"\n" + self.stderr).decode("utf-8", "replace")

    def tail(self, n: int = 4000) -> str:
        return (
            "--- stdout ---\n"
            + self.stdout.decode("utf-8", "replace")[-n:]
            + "\n--- stderr ---\n"
            + self.stderr.decode("utf-8", "replace")[-n:]
        )


def run_txpipe(args: list[str], env: dict[str, str], cwd: Path) -> RunResult:
    import time

    start = time.monotonic()
    proc = subprocess.run([*txpipe_command(), *args], env=env, cwd=cwd, capture_output=True, timeout=RUN_TIMEOUT)
    return RunResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


# ----------------------------------------------------------------------------------------------
# What a run left behind
# ----------------------------------------------------------------------------------------------
def ledger_records(home: Path) -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((home / "lake" / "deliveries").glob("*.json"))]


def run_reports(home: Path) -> dict[str, dict]:
    out = {}
    for p in sorted((home / "reports" / "runs").glob("ingest-*.json")):
        out[p.name] = json.loads(p.read_text("utf-8"))
    return out


def all_files(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _stringify(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def parquet_text(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return str(table.schema) + "\n" + _stringify(table.to_pylist())


def parquet_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def warehouse_tables(db: Path) -> dict[str, list[dict]]:
    import duckdb

    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        names = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY table_schema, table_name"
        ).fetchall()
        for schema, name in names:
            cur = con.execute(f'SELECT * FROM "{schema}"."{name}"')
            cols = [d[0] for d in cur.description]
            out[name if schema == "main" else f"{schema}.{name}"] = [
                dict(zip(cols, r, strict=False)) for r in cur.fetchall()
            ]
        comments = con.execute("SELECT table_name, column_name, comment FROM duckdb_columns()").fetchall()
        out["__comments__"] = [{"c": c} for c in comments]
    return out


def prefect_db_text(prefect_home: Path) -> dict[str, str]:
    """Every text column of every table of Prefect's sqlite database (reads the WAL too)."""
    db = prefect_home / "prefect.db"
    out: dict[str, str] = {}
    if not db.exists():
        return out
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            try:
                rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
            except sqlite3.Error as exc:  # pragma: no cover - diagnostic only
                out[f"table {t} (unreadable: {exc})"] = ""
                continue
            parts = []
            for r in rows:
                for v in r:
                    if isinstance(v, bytes):
                        parts.append(v.decode("utf-8", "replace"))
                    elif v is not None:
                        parts.append(str(v))
            out[f"prefect table {t}"] = "\n".join(parts)
    finally:
        con.close()
    return out


@dataclass
class Snapshot:
    """Every place a value could leak to, as text (lower-cased for a case-insensitive search)."""

    places: dict[str, dict[str, str]] = field(default_factory=dict)  # category -> {where: text}

    def add(self, category: str, where: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        self.places.setdefault(category, {})[where] = text.lower()

    def leaks(self, category: str, secrets: dict[str, str], allowed_where=None) -> list[str]:
        """Secrets found in a category; allowed_where(where) -> True skips a place (for secrets
        that the README lets live there)."""
        found = []
        for where, text in self.places.get(category, {}).items():
            if allowed_where is not None and allowed_where(where):
                continue
            for key, secret in secrets.items():
                if secret.lower() in text:
                    found.append(f"{key} ({secret!r}) in {where}")
        return found


def rejoin_table_cells(text: str) -> str:
    """Undo the wrapping of Rich tables: each cell's fragments joined with a space and without,
    so a value cut across lines is still found."""
    rows: list[list[list[str]]] = []
    cols: list[list[str]] | None = None
    for line in text.splitlines():
        if "\u2502" in line:
            cells = line.split("\u2502")[1:-1]
            if cols is None or len(cells) != len(cols) or (cells and cells[0].strip()):
                if cols:
                    rows.append(cols)
                cols = [[c.strip()] for c in cells]
            else:
                for acc, c in zip(cols, cells, strict=False):
                    acc.append(c.strip())
        elif cols:
            rows.append(cols)
            cols = None
    if cols:
        rows.append(cols)
    out = []
    for row in rows:
        for frags in row:
            frags = [f for f in frags if f]
            out.append(" ".join(frags))
            out.append("".join(frags))
    return "\n".join(out)


CATEGORIES = [
    "output",
    "ledger",
    "run_reports",
    "validation_html",
    "dashboard_html",
    "marts",
    "lake_parquet",
    "warehouse",
    "other_home_files",
    "prefect_files",
    "prefect_db",
]


def snapshot(home: Path, prefect_home: Path, result: RunResult) -> Snapshot:
    snap = Snapshot()
    snap.add("output", "stdout", result.stdout)
    snap.add("output", "stdout (table cells re-joined)", rejoin_table_cells(result.stdout.decode("utf-8", "replace")))
    snap.add("output", "stderr", result.stderr)
    for rel, data in all_files(home).items():
        if rel.startswith("lake/deliveries/"):
            snap.add("ledger", rel, data)
        elif rel.startswith("reports/runs/"):
            snap.add("run_reports", rel, data)
        elif rel == "reports/validation.html":
            snap.add("validation_html", rel, data)
        elif rel.startswith("reports/dashboard"):
            snap.add("dashboard_html", rel, data)
        elif rel.startswith("marts/"):
            snap.add("marts", rel + " (bytes)", data)
            if rel.endswith(".parquet"):
                snap.add("marts", rel + " (pyarrow)", parquet_text(home / rel))
        elif rel.startswith("lake/") and rel.endswith(".parquet"):
            snap.add("lake_parquet", rel + " (bytes)", data)
            snap.add("lake_parquet", rel + " (pyarrow)", parquet_text(home / rel))
        elif rel.startswith("warehouse/"):
            snap.add("warehouse", rel + " (bytes)", data)
        else:
            snap.add("other_home_files", rel, data)
    db = home / "warehouse" / "txpipe.duckdb"
    if db.exists():
        for table, rows in warehouse_tables(db).items():
            snap.add("warehouse", f"duckdb table {table}", _stringify(rows))
    for rel, data in all_files(prefect_home).items():
        snap.add("prefect_files", rel, data)
    for where, text in prefect_db_text(prefect_home).items():
        snap.add("prefect_db", where, text)
    return snap
