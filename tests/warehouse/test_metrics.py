"""Metric correctness against values computed by hand from small hand-built deliveries.

The reference data is built here too, so the expected figures follow from this file alone:
Finland PFP until 2023-04-03, Sweden PFP until 2024-03-06; Russia suspended from 2014-04-01,
Belarus suspended throughout, Afghanistan suspended from 2021-08-15.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import TEST_KEY, ingest_all, row, write_csv
from txpipe.settings import Settings
from txpipe.warehouse.publish import publish_warehouse

NATIONS = """code,name,framework,valid_from,valid_to,status,status_from,note
FRA,France,ALLY,1949-04-04,,active,,
FIN,Finland,PFP,1994-05-09,2023-04-03,active,,
FIN,Finland,ALLY,2023-04-04,,active,,
SWE,Sweden,PFP,1994-05-09,2024-03-06,active,,
SWE,Sweden,ALLY,2024-03-07,,active,,
GEO,Georgia,PFP,,,active,,
UKR,Ukraine,PFP,,,active,,
RUS,Russian Federation,PFP,,,suspended,2014-04-01,
BLR,Belarus,PFP,,,suspended,,
AFG,Afghanistan,PAG,,,suspended,2021-08-15,
JPN,Japan,PAG,,,active,,
JOR,Jordan,MD,,,active,,
XUN,United Nations,IO,,,active,,
"""
ACTIVITIES = """activity_code,title,programme,provider,delivery_mode,duration_days
N5-35,Planning Course,education,NSO,resident,5
T2-210,Staff Training,training,JFTC,resident,5
E1-401,Exercise STEADFAST JACKAL,exercise,JFTC,field,10
"""
ITERATIONS = """iteration_id,activity_code,start_date,end_date,seats_offered
N5-35-A-24,N5-35,2024-03-04,2024-03-08,10
N5-35-B-24,N5-35,2024-03-07,2024-03-08,0
T2-210-A-24,T2-210,2024-07-01,2024-07-05,20
E1-401-A-24,E1-401,2024-05-10,2024-05-19,500
"""


def course(rid, nation, ref, status, sex, start="2024-03-04", end="2024-03-08", iteration="N5-35-A-24", **more):
    return row(
        source_record_id=rid,
        nation=nation,
        participant_ref=ref,
        status=status,
        sex=sex,
        start_date=start,
        end_date=end,
        iteration_id=iteration,
        score="",
        **more,
    )


def contingent(rid, nation, headcount, role, status):
    return row(
        source_record_id=rid,
        programme="exercise",
        activity_code="E1-401",
        iteration_id="E1-401-A-24",
        start_date="2024-05-10",
        end_date="2024-05-19",
        nation=nation,
        participant_ref="",
        headcount=str(headcount),
        role=role,
        status=status,
        sex="U",
        rank="",
        score="",
        delivery_mode="field",
    )


COURSES_V2 = [
    course("r1", "GEO", "P1", "passed", "F"),
    course("r2", "GEO", "P2", "failed", "M"),
    course("r3", "UKR", "P3", "no_show", "X"),
    course("r4", "UKR", "P4", "completed", "U"),
    course("r5", "SWE", "P5", "attended", "X"),  # 2024-03-04: Sweden still PFP
    course("r6", "SWE", "P5", "passed", "M", start="2024-03-07", iteration="N5-35-B-24"),  # ALLY from 2024-03-07
    course("r7", "FIN", "P7", "attended", "M", start="2023-03-01", end="2023-03-03", iteration="N5-35-A-23"),
    course("r8", "FIN", "P7", "attended", "M", start="2023-05-02", end="2023-05-02", iteration=""),
    course("r9", "JOR", "P9", "cancelled", "F", start="2024-06-01", end="2024-06-02"),
    course(
        "r10",
        "GEO",
        "P1",
        "attended",
        "F",
        start="2024-07-01",
        end="2024-07-05",
        iteration="T2-210-A-24",
        programme="training",
        activity_code="T2-210",
    ),
    course("r12", "JPN", "P12", "attended", "F", start="2021-09-01", end="2021-09-01", iteration=""),
]
# The first delivery of the same file: r11 and r2's status are replaced by the re-delivery above.
COURSES_V1 = [
    *COURSES_V2[:1],
    course("r2", "GEO", "P2", "attended", "M"),
    *COURSES_V2[2:],
    course("r11", "UKR", "P11", "passed", "F"),
]
# A later file re-delivers r4 with its final status.
CORRECTIONS = [course("r4", "UKR", "P4", "passed", "U")]
EXERCISE = [
    contingent("e1", "GEO", 40, "training_audience", "attended"),
    contingent("e2", "UKR", 12, "observer", "attended"),
    contingent("e3", "FRA", 100, "training_audience", "attended"),
    contingent("e4", "JPN", 5, "observer", "registered"),
]


@pytest.fixture(scope="module", params=["published once", "published after every ingest"])
def warehouse(request, tmp_path_factory):
    """The deliveries below, published once at the end, or after every ingest (each publish then extends a
    copy of the previous warehouse where it can: the corrections replace a row it holds). Built once per
    way for the module: every test only reads it."""
    every_step = request.param == "published after every ingest"
    tmp_path = tmp_path_factory.mktemp("metrics")
    landing = tmp_path / "landing"
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "nations.csv").write_text(NATIONS)
    (reference / "nation_aliases.csv").write_text("alias,code\n")
    (reference / "activities.csv").write_text(ACTIVITIES)
    (reference / "iterations.csv").write_text(ITERATIONS)
    settings = Settings.from_env(
        {
            "TXPIPE_HOME": str(tmp_path / "home"),
            "TXPIPE_PSEUDONYM_KEY": TEST_KEY,
            "TXPIPE_REFERENCE_DIR": str(reference),
        }
    )
    write_csv(landing / "nso" / "courses.csv", COURSES_V1)
    write_csv(landing / "ex" / "ex.csv", EXERCISE)
    assert len(ingest_all(settings, landing)) == 2
    if every_step:
        publish_warehouse(settings)
    write_csv(landing / "nso" / "courses.csv", COURSES_V2)
    assert len(ingest_all(settings, landing)) == 1
    if every_step:
        publish_warehouse(settings)
    write_csv(landing / "nso" / "corrections.csv", CORRECTIONS)
    assert len(ingest_all(settings, landing)) == 1
    path, _ = publish_warehouse(settings)
    with duckdb.connect(str(path), read_only=True) as con:
        yield con


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_participation_resolves_versions_and_dated_frameworks(warehouse):
    current = dict(
        rows(warehouse, "SELECT source_record_id, status || '/' || coalesce(framework, '-') FROM participation")
    )
    assert "r11" not in current  # its delivery was superseded
    assert current["r2"] == "failed/PFP"  # the re-delivered file wins
    assert current["r4"] == "passed/PFP"  # the later file wins
    assert current["r5"] == "attended/PFP" and current["r6"] == "passed/ALLY"  # Sweden on 6 vs 7 March 2024
    assert current["r7"] == "attended/PFP" and current["r8"] == "attended/ALLY"  # Finland before/after 4 April 2023
    assert len(current) == 11 + 4
    statuses = dict(rows(warehouse, "SELECT source_file || ':' || status, count(*) FROM deliveries GROUP BY 1"))
    assert statuses == {
        "courses.csv:superseded": 1,
        "courses.csv:stored": 1,
        "corrections.csv:stored": 1,
        "ex.csv:stored": 1,
    }


def test_metrics_participation(warehouse):
    got = set(rows(warehouse, "SELECT * FROM metrics_participation"))
    assert got == {
        # year, quarter, nation, framework, programme, participants, individuals, events, activities, person_days
        (2024, 1, "GEO", "PFP", "education", 2, 2, 2, 1, 10),  # r1 passed + r2 failed, 5 days each
        (2024, 1, "UKR", "PFP", "education", 1, 1, 1, 1, 5),  # r4 passed (r3 no_show is not attended)
        (2024, 1, "SWE", "PFP", "education", 1, 1, 1, 1, 5),  # r5
        (2024, 1, "SWE", "ALLY", "education", 1, 1, 1, 1, 2),  # r6, 7-8 March
        (2024, 3, "GEO", "PFP", "training", 1, 1, 1, 1, 5),  # r10
        (2024, 2, "GEO", "PFP", "exercise", 40, 0, 1, 1, 400),  # contingent: 40 people, no individuals
        (2024, 2, "UKR", "PFP", "exercise", 12, 0, 1, 1, 120),
        (2024, 2, "FRA", "ALLY", "exercise", 100, 0, 1, 1, 1000),
        (2023, 1, "FIN", "PFP", "education", 1, 1, 1, 1, 3),
        (2023, 2, "FIN", "ALLY", "education", 1, 1, 1, 1, 1),
        (2021, 3, "JPN", "PAG", "education", 1, 1, 1, 1, 1),
    }


def test_metrics_outcomes_with_null_rates(warehouse):
    got = {r[:4]: r[4:] for r in rows(warehouse, "SELECT * FROM metrics_outcomes")}
    # nominated, registered, cancelled, no_show, attended, completed, passed, failed, withdrawn, attended_total,
    # completion_rate, pass_rate, no_show_rate
    assert got[(2024, "GEO", "PFP", "education")] == (0, 0, 0, 0, 0, 0, 1, 1, 0, 2, 0.5, 0.5, 0.0)
    assert got[(2024, "UKR", "PFP", "education")] == (0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1.0, 1.0, 0.5)
    assert got[(2024, "SWE", "PFP", "education")] == (0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0.0, None, 0.0)
    assert got[(2024, "JOR", "MD", "education")] == (0, 0, 1, 0, 0, 0, 0, 0, 0, 0, None, None, None)
    assert got[(2024, "JPN", "PAG", "exercise")] == (0, 5, 0, 0, 0, 0, 0, 0, 0, 0, None, None, None)
    assert got[(2024, "GEO", "PFP", "exercise")] == (0, 0, 0, 0, 40, 0, 0, 0, 0, 40, 0.0, None, 0.0)
    assert len(got) == 13  # 10 groups in 2024, FIN twice in 2023, JPN in 2021


def test_metrics_gender(warehouse):
    got = {r[:4]: r[4:] for r in rows(warehouse, "SELECT * FROM metrics_gender")}
    # women, men, other, unknown, women_share, sex_coverage (attended rows only)
    assert got[(2024, "GEO", "PFP", "education")] == (1, 1, 0, 0, 0.5, 1.0)
    assert got[(2024, "UKR", "PFP", "education")] == (0, 0, 0, 1, None, 0.0)  # r3 (X) was a no-show
    assert got[(2024, "SWE", "PFP", "education")] == (0, 0, 1, 0, 0.0, 1.0)
    assert got[(2024, "GEO", "PFP", "exercise")] == (0, 0, 0, 40, None, 0.0)
    assert (2024, "JOR", "MD", "education") not in got


def test_metrics_partner_coverage_with_dated_and_suspended_partners(warehouse):
    got = {r[:3]: r[3:] for r in rows(warehouse, "SELECT * FROM metrics_partner_coverage")}
    assert len(got) == 3 * 3 * 5  # years with data (2021, 2023, 2024) x programmes x partner frameworks
    # PFP active 2024: SWE (to 6 March), GEO, UKR; not FIN (ALLY), RUS (suspended 2014), BLR (suspended)
    assert got[(2024, "education", "PFP")] == (3, 3, 1.0)  # GEO, UKR, SWE (r5 PFP)
    assert got[(2024, "training", "PFP")] == (3, 1, 1 / 3)
    assert got[(2024, "exercise", "PFP")] == (3, 2, 2 / 3)
    assert got[(2023, "education", "PFP")] == (4, 1, 0.25)  # FIN (to 3 April), SWE, GEO, UKR
    assert got[(2024, "education", "MD")] == (1, 0, 0.0)  # JOR only cancelled
    assert got[(2024, "exercise", "PAG")] == (1, 0, 0.0)  # JPN only registered; AFG suspended 2021
    assert got[(2021, "education", "PAG")] == (2, 1, 0.5)  # AFG active until 14 August 2021, JPN
    assert got[(2024, "education", "ICI")] == (0, 0, None)  # no ICI partner at all: NULL, not 0
    assert got[(2024, "education", "IO")] == (1, 0, 0.0)


def test_metrics_exercises(warehouse):
    assert rows(warehouse, "SELECT * FROM metrics_exercises") == [
        # partners GEO (40 TA) and UKR (12 observers); FRA is an Ally, JPN did not attend
        (2024, "E1-401", "E1-401-A-24", 2, 52, 40, 12),
    ]


def test_metrics_fill_rate(warehouse):
    got = {r[2]: r for r in rows(warehouse, "SELECT * FROM metrics_fill_rate")}
    assert got["N5-35-A-24"] == (2024, "N5-35", "N5-35-A-24", 10, 4, 0.4)  # r1 r2 r4 r5
    assert got["N5-35-B-24"] == (2024, "N5-35", "N5-35-B-24", 0, 1, None)  # zero seats: NULL
    assert got["T2-210-A-24"] == (2024, "T2-210", "T2-210-A-24", 20, 1, 0.05)
    assert got["E1-401-A-24"] == (2024, "E1-401", "E1-401-A-24", 500, 152, 0.304)
    assert got["N5-35-A-23"] == (2023, "N5-35", "N5-35-A-23", None, 1, None)  # not in the catalogue
    assert len(got) == 5
