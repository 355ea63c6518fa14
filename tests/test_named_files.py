"""Comments, docstrings and the README name only files that exist: every ``*.sql`` file they name is
in the repository (a comment that names a file the code no longer has misleads the next engineer)."""

from __future__ import annotations

import re
from pathlib import Path

from txpipe.settings import REPO_ROOT

# a file name ending in .sql, with an optional folder path; never a method call (con.sql(...))
NAMED_SQL = re.compile(r"(?<![\w.])((?:[\w-]+/)*[\w-]+\.sql)\b(?!\s*\()")
WHERE_NAMED = ["src", "flows", "benchmarks", "tests", "README.md", "docs"]


def _texts() -> list[Path]:
    paths: list[Path] = []
    for where in WHERE_NAMED:
        root = REPO_ROOT / where
        if root.is_file():
            paths.append(root)
        else:
            paths += [p for p in root.rglob("*") if p.suffix in (".py", ".sql", ".md") and "hostile" not in p.parts]
    return [p for p in paths if p != Path(__file__)]


def named_sql_files() -> dict[str, list[str]]:
    named: dict[str, list[str]] = {}
    for path in _texts():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            for name in NAMED_SQL.findall(line):
                named.setdefault(name, []).append(f"{path.relative_to(REPO_ROOT)}:{number}")
    return named


def test_every_sql_file_named_exists():
    files = [p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.rglob("*.sql") if ".venv" not in p.parts]
    named = named_sql_files()
    assert len(named) >= 10  # the scan finds the names the code and the README use
    missing = {
        name: where for name, where in named.items() if not any(f == name or f.endswith("/" + name) for f in files)
    }
    assert not missing, missing


def test_a_named_file_that_is_gone_is_found(tmp_path):
    assert NAMED_SQL.findall("see ``insert_delivered.sql`` and sql/outcome.sql, not con.sql(query)") == [
        "insert_delivered.sql",
        "sql/outcome.sql",
    ]
