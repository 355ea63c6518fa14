"""The Partnership for Peace history of Allies in data/reference/nations.csv, through the real pipeline.

Every Ally that was a PfP partner before it joined holds PFP from the day it signed the PfP Framework
Document to the day before its accession, and ALLY from accession day. So a contingent the day
before accession is a PFP row, an engaged partner and an active partner of that year; a contingent
on accession day is an ALLY row and no partner; the year after accession the nation is no active
partner. The expected figures follow from the accession dates written below and the rules of
docs/metrics.md, never from what the program printed.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from urllib.parse import urlparse

import duckdb
import pytest

from tests.conftest import TEST_KEY, ingest_all, row, write_csv
from txpipe.reference import check_nations, load_reference
from txpipe.settings import REPO_ROOT, Settings
from txpipe.warehouse.publish import publish_warehouse

NATIONS_CSV = REPO_ROOT / "data" / "reference" / "nations.csv"
PFP_LAUNCH = dt.date(1994, 1, 10)  # Brussels Summit: the Framework Document opened for signature after it
# The day each Ally that was a PfP partner before joining acceded to the North Atlantic Treaty.
ACCESSION = {
    **dict.fromkeys(("CZE", "HUN", "POL"), dt.date(1999, 3, 12)),
    **dict.fromkeys(("BGR", "EST", "LVA", "LTU", "ROU", "SVK", "SVN"), dt.date(2004, 3, 29)),
    **dict.fromkeys(("ALB", "HRV"), dt.date(2009, 4, 1)),
    "MNE": dt.date(2017, 6, 5),
    "MKD": dt.date(2020, 3, 27),
    "FIN": dt.date(2023, 4, 4),
    "SWE": dt.date(2024, 3, 7),
}
DAY = dt.timedelta(days=1)
HEADCOUNT = 10


def reference_rows() -> list[dict[str, str]]:
    with open(NATIONS_CSV, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_ally_with_a_pfp_row_holds_pfp_until_the_day_before_accession():
    periods: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for r in reference_rows():
        periods[r["code"]][r["framework"]].append(r)
    allies_with_pfp = {code for code, held in periods.items() if "ALLY" in held and "PFP" in held}
    assert allies_with_pfp == set(ACCESSION)
    for code, accession in ACCESSION.items():
        [ally], [pfp] = periods[code]["ALLY"], periods[code]["PFP"]
        assert ally["valid_from"] == accession.isoformat() and ally["valid_to"] == "", code
        assert pfp["valid_to"] == (accession - DAY).isoformat(), code
        assert PFP_LAUNCH <= dt.date.fromisoformat(pfp["valid_from"]) < accession - DAY, code
        assert pfp["status"] == "active" and pfp["status_from"] == "", code
        source = urlparse(pfp["source"])
        assert source.scheme == "https" and source.netloc in ("www.nato.int", "nato.int"), (code, pfp["source"])


def test_an_overlapping_nations_file_is_refused_with_the_code_and_rows(tmp_path):
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "nations.csv").write_text(
        "code,name,framework,valid_from,valid_to,status,status_from,note,source\n"
        "GEO,Georgia,PFP,,,active,,,\n"
        "CZE,Czechia,PFP,1994-03-10,1999-03-12,active,,,https://www.nato.int/\n"  # one day too long
        "CZE,Czechia,ALLY,1999-03-12,,active,,,\n"
    )
    with pytest.raises(ValueError) as refused:
        load_reference(reference)
    message = str(refused.value)
    assert "\n" not in message
    assert "CZE" in message and "row 3" in message and "row 4" in message
    assert "GEO" not in message
    env = {"TXPIPE_HOME": str(tmp_path / "home"), "TXPIPE_PSEUDONYM_KEY": TEST_KEY}
    settings = Settings.from_env({**env, "TXPIPE_REFERENCE_DIR": str(reference)})
    with pytest.raises(ValueError, match="CZE"):  # the warehouse build reads nations.csv itself: refused too
        publish_warehouse(settings)


@pytest.mark.parametrize(
    "rows,expected",
    [
        ("FIN,Finland,PFP,1994-05-09,2023-04-03,active,,\nFIN,Finland,ALLY,2023-04-04,,active,,\n", None),
        ("RUS,Russia,PFP,,,suspended,2014-04-01,\nRUS,Russia,PAG,2030-01-01,,active,,\n", "row 2"),
        ("FIN,Finland,PFP,2023-04-04,2023-04-03,active,,\n", "valid_to before valid_from"),
        ("FIN,Finland,PFP,4/4/2023,,active,,\n", "not an ISO date"),
    ],
    ids=["back to back", "open start over a later row", "reversed", "not ISO"],
)
def test_periods_are_checked(tmp_path, rows, expected):
    path = tmp_path / "nations.csv"
    path.write_text("code,name,framework,valid_from,valid_to,status,status_from,note\n" + rows)
    if expected is None:
        check_nations(path)
    else:
        with pytest.raises(ValueError, match=expected):
            check_nations(path)


def contingent(rid: str, nation: str, day: dt.date) -> dict:
    return row(
        source_record_id=rid,
        programme="exercise",
        activity_code="E1-401",
        activity_title="",
        iteration_id="",
        provider="JFTC",
        start_date=day.isoformat(),
        end_date=day.isoformat(),
        delivery_mode="field",
        nation=nation,
        participant_ref="",
        headcount=str(HEADCOUNT),
        sex="U",
        rank="",
        role="training_audience",
        status="attended",
        score="",
    )


def deliveries() -> dict[str, tuple[str, dt.date]]:
    """record id -> (nation, start_date): around every accession, and the real cases of the issue
    (Montenegrin contingents 2011-2016, North Macedonian ones in 2019)."""
    days = {}
    for code, accession in ACCESSION.items():
        days[f"{code}-eve"] = (code, accession - DAY)
        days[f"{code}-day"] = (code, accession)
        days[f"{code}-next-year"] = (code, dt.date(accession.year + 1, 1, 15))
    for year in range(2011, 2017):
        days[f"MNE-{year}"] = ("MNE", dt.date(year, 6, 1))
    days["MKD-2019"] = ("MKD", dt.date(2019, 10, 1))
    return days


def expected_framework(nation: str, day: dt.date) -> str:
    """The rule for an Ally with a PfP past, on a day after it signed (every day above is)."""
    return "ALLY" if day >= ACCESSION[nation] else "PFP"


def active_pfp_partners(year: int) -> set[str]:
    """docs/metrics.md: nations that held PFP on a day of the year and were not suspended that day."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    active = set()
    for r in reference_rows():
        if r["framework"] != "PFP" or (r["status"] == "suspended" and not r["status_from"]):
            continue
        start = dt.date.fromisoformat(r["valid_from"]) if r["valid_from"] else dt.date.min
        end = dt.date.fromisoformat(r["valid_to"]) if r["valid_to"] else dt.date.max
        if r["status"] == "suspended":
            end = min(end, dt.date.fromisoformat(r["status_from"]) - DAY)
        if start <= last and end >= first and start <= end:
            active.add(r["code"])
    return active


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The contingents above, ingested and published with the real reference data."""
    tmp_path = tmp_path_factory.mktemp("pfp")
    landing = tmp_path / "landing"
    settings = Settings.from_env({"TXPIPE_HOME": str(tmp_path / "home"), "TXPIPE_PSEUDONYM_KEY": TEST_KEY})
    assert settings.reference_dir.resolve() == NATIONS_CSV.parent.resolve()
    write_csv(landing / "ex" / "contingents.csv", [contingent(rid, n, d) for rid, (n, d) in deliveries().items()])
    [record] = ingest_all(settings, landing)
    assert (record.rows_stored, record.rows_quarantined) == (len(deliveries()), 0)
    path, _ = publish_warehouse(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        yield con


def test_contingents_take_the_framework_held_at_start_date(warehouse):
    got = dict(warehouse.execute("SELECT source_record_id, framework FROM participation").fetchall())
    assert got == {rid: expected_framework(nation, day) for rid, (nation, day) in deliveries().items()}


def test_the_day_before_accession_counts_as_an_engaged_and_active_partner(warehouse):
    years = sorted({day.year for _, day in deliveries().values()})
    engaged: dict[int, set[str]] = {year: set() for year in years}
    for nation, day in deliveries().values():
        if expected_framework(nation, day) == "PFP":
            engaged[day.year].add(nation)
    got = {
        year: (active, engaged_partners)
        for year, active, engaged_partners in warehouse.execute(
            "SELECT year, active_partners, engaged_partners FROM metrics_partner_coverage "
            "WHERE programme = 'exercise' AND framework = 'PFP'"
        ).fetchall()
    }
    assert got == {year: (len(active_pfp_partners(year)), len(engaged[year])) for year in years}
    for code, accession in ACCESSION.items():  # active the year it joined (until the day before), not after
        assert code in active_pfp_partners(accession.year) and code not in active_pfp_partners(accession.year + 1)


def test_ally_contingents_are_no_partner_headcount(warehouse):
    expected: dict[int, list[str]] = defaultdict(list)
    for nation, day in deliveries().values():
        if expected_framework(nation, day) == "PFP":
            expected[day.year].append(nation)
    got = {
        year: (nations, headcount)
        for year, nations, headcount in warehouse.execute(
            "SELECT year, partner_nations, partner_headcount FROM metrics_exercises WHERE activity_code = 'E1-401'"
        ).fetchall()
    }
    years = {day.year for _, day in deliveries().values()}
    assert got == {y: (len(set(expected[y])), HEADCOUNT * len(expected[y])) for y in years}


def test_the_warehouse_nations_table_carries_the_source(warehouse):
    sources = dict(
        warehouse.execute("SELECT code, source FROM nations WHERE framework = 'PFP' AND source IS NOT NULL").fetchall()
    )
    assert set(ACCESSION) <= set(sources)
    assert all(urlparse(url).netloc.endswith("nato.int") for url in sources.values())


def test_the_reference_loader_keeps_the_source_column():
    nations = load_reference(NATIONS_CSV.parent).nations
    assert "source" in nations.columns
    pfp_allies = nations[nations["code"].isin(list(ACCESSION)) & (nations["framework"] == "PFP")]
    assert len(pfp_allies) == len(ACCESSION) and pfp_allies["source"].notna().all()
