"""Privacy: a canary participant_ref and a canary e-mail column never reach any output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from tests.conftest import row, write_csv

CANARY_REF = "CANARY-REF-5c1f9e"
CANARY_EMAIL = "canary.5c1f9e@example.org"


def plant_canaries(landing: Path) -> None:
    write_csv(
        landing / "nso" / "roster.csv",
        [
            {**row(participant_ref=CANARY_REF), "Email": CANARY_EMAIL},
            {**row(source_record_id="R2", participant_ref=CANARY_REF, nation="Narnia"), "Email": CANARY_EMAIL},
        ],
    )
    book = Workbook()
    sheet = book.active
    sheet.append(["Banner"])
    sheet.append([*list(row()), "E-mail address"])
    sheet.append([*list(row(participant_ref=CANARY_REF, status="bogus").values()), CANARY_EMAIL])
    (landing / "ndc").mkdir()
    book.save(landing / "ndc" / "roster.xlsx")
    (landing / "mtep").mkdir()
    (landing / "mtep" / "c.jsonl").write_text(
        f'{{"source_record_id": "M1", "participant_ref": "{CANARY_REF}", "email": "{CANARY_EMAIL}", "nation": "AR\n',
        encoding="utf-8",
    )


def decoded(path: Path) -> bytes:
    """A file's bytes, plus its decoded values for columnar formats (compression hides raw text)."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        data += repr(pq.read_table(path).to_pylist()).encode("utf-8")
    if path.suffix == ".duckdb":
        import duckdb

        with duckdb.connect(str(path), read_only=True) as con:
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall():
                data += repr(con.execute(f'select * from "{schema}"."{name}"').fetchall()).encode("utf-8")
    return data


@pytest.mark.deep  # a whole `txpipe run` with its Prefect server
def test_no_output_holds_the_canary_ref_or_email(tmp_path):
    landing, home, prefect_home = tmp_path / "landing", tmp_path / "home", tmp_path / "prefect"
    landing.mkdir()
    plant_canaries(landing)
    env = {**os.environ, "TXPIPE_HOME": str(home), "PREFECT_HOME": str(prefect_home), "TXPIPE_PSEUDONYM_KEY": "k"}
    env.pop("PREFECT_API_URL", None)
    run = subprocess.run(
        [sys.executable, "-m", "txpipe", "run", "--landing", str(landing)], env=env, capture_output=True, timeout=300
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log.decode()
    assert b"roster.csv" in log and b"Email" in log  # the run did report the file and the ignored column
    outputs = [p for p in list(home.rglob("*")) + list(prefect_home.rglob("*")) if p.is_file()]
    assert any(p.suffix == ".parquet" for p in outputs)
    quarantine = [p for p in outputs if "quarantine" in p.parts]
    assert quarantine, "the planted bad rows should have been quarantined"
    for path in outputs:
        content = decoded(path)
        assert CANARY_REF.encode() not in content, path
        assert CANARY_EMAIL.encode() not in content, path
    assert CANARY_REF.encode() not in log and CANARY_EMAIL.encode() not in log
