"""Small-cell rule: a partner copy never shows a total from which another nation's figure follows.

With 3 GEO and 5 ARM participants in a cell, a total of 8 over 2 nations tells GEO that ARM had 5.
GEO's copy (dashboard and marts) withholds every total over fewer than 3 nations, and any total
(such as a year over all programmes) that would give a withheld one back by subtraction.
"""

from __future__ import annotations

import json
import re
from csv import DictReader

import pyarrow.parquet as pq
import pytest

from tests.browser import open_page
from tests.conftest import ingest_all, row, write_csv
from txpipe.outputs.dashboard import write_dashboard
from txpipe.outputs.partner_export import export_partner_marts
from txpipe.warehouse.publish import publish_warehouse

pytestmark = pytest.mark.integration

# (programme, nation, participants) in 2024: education holds GEO and one other nation, training three nations.
CELLS = [
    ("education", "GEO", 3),
    ("education", "ARM", 5),
    ("training", "GEO", 2),
    ("training", "ARM", 4),
    ("training", "AZE", 6),
]
TWO_NATION_TOTAL = 3 + 5
THREE_NATION_TOTAL = 2 + 4 + 6


@pytest.fixture(scope="module")
def geo_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("disclosure")
    rows, n = [], 0
    for programme, nation, participants in CELLS:
        for _ in range(participants):
            n += 1
            rows.append(row(source_record_id=f"R{n}", programme=programme, nation=nation, participant_ref=f"P-{n}"))
    write_csv(root / "landing" / "ptec" / "roster.csv", rows)
    mp = pytest.MonkeyPatch()
    mp.setenv("TXPIPE_HOME", str(root / "home"))
    mp.setenv("TXPIPE_PSEUDONYM_KEY", "disclosure")
    from txpipe.settings import Settings

    settings = Settings.from_env()
    [record] = ingest_all(settings, root / "landing")
    assert record.rows_stored == sum(c[2] for c in CELLS)
    publish_warehouse(settings)
    marts = export_partner_marts(settings, "GEO", root / "marts")
    page = write_dashboard(settings, partner="GEO", out=root / "dashboard-GEO.html")
    yield {"marts": marts, "page": page, "root": root}
    mp.undo()


@pytest.fixture(scope="module")
def geo_dom(geo_copy) -> str:
    """The partner copy's dashboard as a real browser draws it."""
    return open_page(geo_copy["page"], geo_copy["root"] / "profile")["dom"]


def test_the_marts_withhold_the_two_nation_total_and_show_the_three_nation_one(geo_copy):
    [parquet] = [p for p in geo_copy["marts"] if p.name == "totals.parquet"]
    [csv] = [p for p in geo_copy["marts"] if p.name == "totals.csv"]
    totals = {(r["year"], r["programme"]): r for r in pq.read_table(parquet).to_pylist()}
    education, training = totals[(2024, "education")], totals[(2024, "training")]
    assert education["all_partner_participants"] is None and education["withheld"] is True
    assert TWO_NATION_TOTAL not in education.values()
    assert training["all_partner_participants"] == THREE_NATION_TOTAL and training["withheld"] is False
    with csv.open(encoding="utf-8", newline="") as handle:
        by_programme = {r["programme"]: r for r in DictReader(handle)}
    assert by_programme["education"]["all_partner_participants"] == ""
    assert by_programme["training"]["all_partner_participants"] == str(THREE_NATION_TOTAL)


def test_no_mart_of_the_partner_copy_holds_the_two_nation_total(geo_copy):
    for path in geo_copy["marts"]:
        if path.suffix == ".parquet":
            for record in pq.read_table(path).to_pylist():
                if record.get("programme") == "education":
                    assert TWO_NATION_TOTAL not in [v for k, v in record.items() if k != "year"], (path.name, record)


@pytest.mark.deep
def test_the_dashboard_shows_withheld_with_the_rule_and_the_three_nation_total(geo_dom):
    dom = geo_dom
    assert 'data-ready="true"' in dom and re.search(r'<pre id="errors" role="alert">\s*</pre>', dom)
    table = re.search(r'id="table-totals">(.*?)</table>', dom, re.S)
    assert table, "the partner copy shows no table of the overall totals"
    rows = {
        re.sub(r"<[^>]+>", "", cells[0]): [re.sub(r"<[^>]+>", "", c) for c in cells]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
        )
        if cells
    }
    assert rows["education"][1] == "withheld" and "fewer than 3 nations" in " ".join(rows["education"])
    assert rows["training"][1] == str(THREE_NATION_TOTAL)
    # the total over every programme would give the education total back (20 - 12): withheld too
    assert rows["all programmes"][1] == "withheld"
    note = re.search(r'id="tile-participants".*?<div class="note">(.*?)</div>', dom, re.S).group(1)
    assert "withheld" in note and "%" not in note, note


def test_the_dashboard_file_holds_neither_the_withheld_total_nor_one_it_follows_from(geo_copy):
    html = geo_copy["page"].read_text(encoding="utf-8")
    data = json.loads(
        re.search(r'<script type="application/json" id="txpipe-data">(.*?)</script>', html, re.S).group(1)
    )
    shown = {(r["year"], r["programme"]): r["all_partner_participants"] for r in data["totals"]}
    assert shown == {(2024, "education"): None, (2024, "training"): THREE_NATION_TOTAL}
