"""Issue 23: a partner copy is refused in the library itself, whoever asks for it.

`txpipe dashboard --partner ''` wrote the full (all-partner) dashboard: the library read a blank code
as "no partner". Every maker of partner copies (write_dashboard, gather, render, dashboard_path,
export_partner_marts) now refuses a blank or whitespace code, and one the warehouse does not hold,
with a ValueError and before anything is written. The full copy is asked for with no partner (None).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ingest_all, row, write_csv
from txpipe.outputs.dashboard import dashboard_path, gather, render, write_dashboard
from txpipe.outputs.partner_export import export_partner_marts, partner_code
from txpipe.settings import Settings
from txpipe.warehouse.publish import publish_warehouse, warehouse_path

BLANK = ["", " ", "\t", " \n\u3000"]


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("partner-refusals")
    write_csv(root / "landing" / "ptec" / "roster.csv", [row(), row(source_record_id="R2", nation="ARM")])
    mp = pytest.MonkeyPatch()
    mp.setenv("TXPIPE_HOME", str(root / "home"))
    mp.setenv("TXPIPE_PSEUDONYM_KEY", "refusals")
    settings = Settings.from_env()
    [record] = ingest_all(settings, root / "landing")
    assert record.rows_stored == 2
    publish_warehouse(settings)
    yield settings
    mp.undo()


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.exists() else set()


@pytest.mark.parametrize("blank", BLANK)
def test_a_blank_partner_is_refused_by_every_maker_of_partner_copies(published, blank, tmp_path):
    before = files_under(published.home)
    with pytest.raises(ValueError, match="needs a nation code"):
        write_dashboard(published, blank)
    with pytest.raises(ValueError, match="needs a nation code"):
        write_dashboard(published, blank, out=tmp_path / "d.html")
    with pytest.raises(ValueError, match="needs a nation code"):
        export_partner_marts(published, blank)
    with pytest.raises(ValueError, match="needs a nation code"):
        export_partner_marts(published, blank, tmp_path / "marts")
    with pytest.raises(ValueError, match="needs a nation code"):
        gather(warehouse_path(published), blank)
    with pytest.raises(ValueError, match="needs a nation code"):
        dashboard_path(published, blank)
    with pytest.raises(ValueError, match="needs a nation code"):
        render(gather(warehouse_path(published)), blank)
    assert files_under(published.home) == before and list(tmp_path.iterdir()) == []


def test_a_code_the_warehouse_does_not_hold_is_refused_before_anything_is_written(published, tmp_path):
    before = files_under(published.home)
    with pytest.raises(ValueError, match=r"^XYZ is not a nation code in the warehouse$"):
        export_partner_marts(published, "xyz")
    with pytest.raises(ValueError, match=r"^XYZ is not a nation code in the warehouse$"):
        write_dashboard(published, "XYZ")
    with pytest.raises(ValueError, match="is not a nation code"):
        export_partner_marts(published, "../../x", tmp_path / "marts")  # never a path either
    assert files_under(published.home) == before and list(tmp_path.iterdir()) == []


def test_a_code_is_read_without_its_case_and_surrounding_blanks(published, tmp_path):
    assert partner_code(" geo ") == "GEO"
    assert dashboard_path(published, " geo ").name == "dashboard-GEO.html"
    files = export_partner_marts(published, " geo ", tmp_path / "marts")
    assert len(files) == 10 and all(p.parent == tmp_path / "marts" for p in files)
    assert "ARM" not in (tmp_path / "marts" / "metrics_participation.csv").read_text(encoding="utf-8")


def test_an_export_folder_it_cannot_write_in_is_refused_in_one_line(published, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ValueError, match=r"^the export folder .*a-file/marts is not a writable folder \(Not a direc"):
        export_partner_marts(published, "GEO", tmp_path / "a-file" / "marts")
    with pytest.raises(ValueError, match=r"^the dashboard's folder .*a-file is not a writable folder"):
        write_dashboard(published, "GEO", out=tmp_path / "a-file" / "d.html")
