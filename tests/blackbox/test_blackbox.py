"""Black-box comparison of txpipe against an oracle written from README.md and docs/CONTRACT.md.

Data: real public exports (see data/NOTICE.md). The `blackbox` fixture (conftest.py) runs the
real command line; every expectation below comes from tests/blackbox/oracle.py, never from
txpipe's output.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from functools import cache
from pathlib import Path

import pytest

from tests.blackbox import oracle
from tests.blackbox.conftest import ALIAS, DATA, KEY

WB_SOURCES = ("wbpop-1994", "wbpop-2006", "wbpop-2017", "wbpop-2021", "wbpop-names")
XAPI = "datasim-tccc"
NATIONS = oracle.load_nations()
ALIASES = oracle.load_aliases()


# ---------------------------------------------------------------- oracle side


def _config(source: str, extra: str = "") -> dict:
    import tomllib

    return tomllib.loads((DATA / "sources" / f"{source}.toml").read_text(encoding="utf-8") + extra)


def _file(source: str) -> Path:
    return next((DATA / "landing" / source).glob("*.csv"))


@cache
def verdict(source: str, fixed: bool = False, alias: bool = False) -> oracle.FileVerdict:
    path = DATA / "redelivery" / "population_2021_fixed.csv" if fixed else _file(source)
    nation_of = _by_iso3 if source == "wbpop-names" else None
    return oracle.judge_roster(path, _config(source, ALIAS if alias else ""), NATIONS, ALIASES, nation_of)


def _by_iso3(values: dict) -> str | None:
    """wbpop-names: the name must resolve to the file's own ISO3 code when that code is a
    reference nation; a name that is a reference nation's own name ("European Union", the World
    Bank's aggregate EUU) resolves to that nation; anything else is unknown."""
    code = values["source_record_id"]
    if code in {p.code for p in NATIONS}:
        return code
    return oracle.resolve_nation(values["nation"], NATIONS, ALIASES, {})


@cache
def xapi_oracle() -> tuple[dict, list[oracle.XapiRecord]]:
    statements = json.loads(gzip.decompress((DATA / "tccc_dev.json.gz").read_bytes()))
    roster = oracle.load_roster(DATA / "landing" / XAPI / "roster.csv")
    return oracle.judge_xapi(statements, _config(XAPI), roster)


def _xapi_nation(rec: oracle.XapiRecord) -> str | None:
    if rec.nation_delivered is None:
        return None
    return oracle.resolve_nation(rec.nation_delivered, NATIONS, ALIASES, {})


def _xapi_reasons(rec: oracle.XapiRecord) -> set[str]:
    reasons = set()
    if not rec.mapped:
        reasons.add("activity_code_malformed")
    if rec.nation_delivered is None:
        reasons.add("nation_missing")
    elif _xapi_nation(rec) is None:
        reasons.add("nation_unknown")
    return reasons


@cache
def expected_participation(stage: str) -> list[dict]:
    """Current records as the README defines them, from the oracle's verdicts."""
    rows = []
    for source in WB_SOURCES:
        versions: dict[str, oracle.RowVerdict] = {}
        deliveries = [verdict(source, alias=(stage == "reprocess" and source == "wbpop-2006"))]
        if source == "wbpop-2021" and stage != "run1":
            deliveries.append(verdict(source, fixed=True))
        for fv in deliveries:  # later delivery's version of a record counts, stored or not
            for r in fv.rows:
                versions[r.values["source_record_id"]] = r
        for r in versions.values():
            if r.stored:
                rows.append(
                    {
                        "source": source,
                        "source_record_id": r.values["source_record_id"],
                        "nation": r.nation,
                        "framework": oracle.framework_at(NATIONS, r.nation, r.start),
                        "start_date": r.start,
                        "end_date": r.end,
                        "headcount": r.headcount,
                        "programme": r.values["programme"],
                        "status": r.values["status"],
                        "activity_code": r.values["activity_code"],
                        "participant_pid": None,
                    }
                )
    _, records = xapi_oracle()
    for rec in records:
        if not _xapi_reasons(rec):
            nation = _xapi_nation(rec)
            rows.append(
                {
                    "source": XAPI,
                    "source_record_id": None,
                    "nation": nation,
                    "framework": oracle.framework_at(NATIONS, nation, rec.start),
                    "start_date": rec.start,
                    "end_date": rec.end,
                    "headcount": 1,
                    "programme": "training",
                    "status": rec.status,
                    "activity_code": rec.activity_code,
                    "participant_pid": oracle.pid(KEY, XAPI, rec.learner),
                }
            )
    return rows


# ---------------------------------------------------------------- txpipe side


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def _delivery(snap: dict, source: str, file: str | None = None, status: str | None = None) -> dict:
    rows = [
        d
        for d in snap["deliveries"]
        if d["source"] == source
        and (file is None or d["source_file"] == file)
        and (status is None or d["status"] == status)
    ]
    assert len(rows) == 1, rows
    return rows[0]


def _quarantine(snap: dict, batch_id: str) -> dict[int, dict]:
    return {q["source_row"]: q for q in snap["quarantine"] if q["batch_id"] == batch_id}


# ---------------------------------------------------------------- roster sources (World Bank)


@pytest.mark.parametrize("source", WB_SOURCES)
def test_rows_balance_and_match_the_oracle_counts(blackbox, source):
    d = _delivery(blackbox["run1"], source)
    v = verdict(source)
    assert d["status"] == "stored"
    assert d["rows_read"] == d["rows_stored"] + d["rows_quarantined"] + d["rows_duplicate"]
    got = (d["rows_read"], d["rows_stored"], d["rows_quarantined"], d["rows_duplicate"])
    assert got == (v.read, len(v.stored), len(v.quarantined), v.duplicates)


@pytest.mark.parametrize("source", WB_SOURCES)
def test_quarantine_reasons_per_row(blackbox, source):
    d = _delivery(blackbox["run1"], source)
    got = {row: set(q["reasons"]) for row, q in _quarantine(blackbox["run1"], d["batch_id"]).items()}
    want = {r.source_row: r.reasons for r in verdict(source).quarantined}
    assert got == want


@pytest.mark.parametrize("source", WB_SOURCES)
def test_stored_rows_dates_nation_framework(blackbox, source):
    got = {
        (
            p["source_record_id"],
            p["nation"],
            p["framework"],
            _d(p["start_date"]),
            _d(p["end_date"]),
            p["headcount"],
            p["programme"],
            p["status"],
            p["activity_code"],
        )
        for p in blackbox["run1"]["participation"]
        if p["source"] == source
    }
    want = {
        (
            r["source_record_id"],
            r["nation"],
            r["framework"],
            r["start_date"],
            r["end_date"],
            r["headcount"],
            r["programme"],
            r["status"],
            r["activity_code"],
        )
        for r in expected_participation("run1")
        if r["source"] == source
    }
    assert got == want


def test_world_bank_names_resolve_to_the_files_own_iso3(blackbox):
    """wbpop-names reads `Country Name` as nation: every name whose ISO3 code is a reference
    nation must resolve to that code (the README names the World Bank's spellings)."""
    rows = oracle.judge_roster(_file("wbpop-names"), _config("wbpop-names"), NATIONS, ALIASES).rows
    ref = {p.code for p in NATIONS}
    d = _delivery(blackbox["run1"], "wbpop-names")
    quarantined = _quarantine(blackbox["run1"], d["batch_id"])
    stored = {
        p["source_record_id"]: p["nation"] for p in blackbox["run1"]["participation"] if p["source"] == "wbpop-names"
    }
    for r in rows:
        code = r.values["source_record_id"]
        if code in ref:
            if code in stored:
                assert stored[code] == code
            else:
                assert "nation_unknown" not in quarantined[r.source_row]["reasons"], r.values
                assert json.loads(quarantined[r.source_row]["record"])["nation"] == r.values["nation"]


def test_a_constant_source_record_id_default_is_refused_and_its_file_rejected(blackbox):
    """Found by this test: a [defaults] source_record_id made every row one record, yet 5 of 6 were stored
    (no conflicting_duplicate) and participation held 5 rows of one record_key. Such a config is now
    refused (README "Adding a source"): the file is rejected, nothing of it stored."""
    d = _delivery(blackbox["run1"], "wbpop-constid")
    assert (d["status"], d["rows_stored"], d["rows_quarantined"]) == ("rejected", 0, 0)
    assert "source_record_id cannot have a default" in d["reason"]


# ---------------------------------------------------------------- xAPI source (DATASIM)


def test_xapi_statement_balance(blackbox):
    counts, records = xapi_oracle()
    d = _delivery(blackbox["run1"], XAPI)
    got = {k: d[f"statements_{k}"] for k in ("read", "used", "ignored", "quarantined")}
    assert got == counts
    assert d["rows_read"] == len(records)
    assert d["rows_stored"] == sum(1 for r in records if not _xapi_reasons(r))


def test_xapi_records_match_the_oracle(blackbox):
    _, records = xapi_oracle()
    pids = {oracle.pid(KEY, XAPI, r.learner): r.learner for r in records}
    got = {
        (
            pids.get(p["participant_pid"], p["participant_pid"]),
            p["activity_code"],
            p["status"],
            _d(p["start_date"]),
            _d(p["end_date"]),
            p["nation"],
            p["framework"],
            p["activity_title"],
            p["source_row"],
        )
        for p in blackbox["run1"]["participation"]
        if p["source"] == XAPI
    }
    want = {
        (
            r.learner,
            r.activity_code,
            r.status,
            r.start,
            r.end,
            _xapi_nation(r),
            oracle.framework_at(NATIONS, _xapi_nation(r), r.start),
            r.title,
            r.source_row,
        )
        for r in records
        if not _xapi_reasons(r)
    }
    assert got == want


def test_xapi_quarantined_records(blackbox):
    _, records = xapi_oracle()
    d = _delivery(blackbox["run1"], XAPI)
    got = {row: set(q["reasons"]) for row, q in _quarantine(blackbox["run1"], d["batch_id"]).items()}
    want = {r.source_row: _xapi_reasons(r) for r in records if _xapi_reasons(r)}
    assert got == want
    quarantined = _quarantine(blackbox["run1"], d["batch_id"])
    for r in records:
        if not r.mapped:  # the IRI in the offending values, so the map can be completed
            assert r.activity_code in quarantined[r.source_row]["offending_values"]


# ---------------------------------------------------------------- metrics (CONTRACT definitions)


def _metrics_got(snap: dict, programmes=("exercise", "training")) -> dict:
    """wbpop-constid delivers as `education` so that its rows (its file is rejected, see above) would
    stay out of the cells compared here."""
    return {
        (m["year"], m["quarter"], m["nation"], m["framework"], m["programme"]): {
            k: m[k] for k in ("participants", "individuals", "participant_events", "activities", "person_days")
        }
        for m in snap["metrics_participation"]
        if m["programme"] in programmes
    }


def test_participation_has_one_row_per_record_key(blackbox):
    keys = [p["record_key"] for p in blackbox["run1"]["participation"]]
    assert len(keys) == len(set(keys))


def test_constant_id_rows_reach_no_metric(blackbox):
    assert _metrics_got(blackbox["run1"], ("education",)) == {}


@pytest.mark.parametrize("stage", ["run1", "run2", "reprocess"])
def test_metrics_participation(blackbox, stage):
    assert _metrics_got(blackbox[stage]) == oracle.metrics_participation(expected_participation(stage))


@pytest.mark.parametrize("stage", ["run1", "run2", "reprocess"])
def test_metrics_partner_coverage(blackbox, stage):
    rows = expected_participation(stage)
    cells = {(r["start_date"].year, r["programme"]) for r in rows}
    got = {(m["year"], m["programme"], m["framework"]): m for m in blackbox[stage]["metrics_partner_coverage"]}
    for year, programme in sorted(cells):
        for fw in oracle.PARTNER_FRAMEWORKS:
            active, engaged, rate = oracle.partner_coverage(rows, NATIONS, year, programme, fw)
            m = got[(year, programme, fw)]
            assert (m["active_partners"], m["engaged_partners"]) == (active, engaged), (year, programme, fw)
            assert m["coverage_rate"] == pytest.approx(rate) if rate is not None else m["coverage_rate"] is None


# ---------------------------------------------------------------- a fixed re-delivery (run 2)


def test_fixed_redelivery_counts_and_current_quarantine(blackbox):
    snap = blackbox["run2"]
    fixed = verdict("wbpop-2021", fixed=True)
    new = _delivery(snap, "wbpop-2021", "population_2021_fixed.csv")
    assert (new["rows_read"], new["rows_stored"], new["rows_quarantined"]) == (
        fixed.read,
        len(fixed.stored),
        len(fixed.quarantined),
    )
    old = _delivery(snap, "wbpop-2021", "population_2021.csv")
    assert old["status"] == "stored" and old["rows_quarantined"] == len(verdict("wbpop-2021").quarantined)
    later_ids = {r.values["source_record_id"] for r in fixed.rows}
    want_old = {r.source_row: r.values["source_record_id"] not in later_ids for r in verdict("wbpop-2021").quarantined}
    got_old = {row: q["current"] for row, q in _quarantine(snap, old["batch_id"]).items()}
    assert got_old == want_old
    assert old["rows_quarantined_current"] == sum(want_old.values())
    got_new = {row: q["current"] for row, q in _quarantine(snap, new["batch_id"]).items()}
    assert got_new == {r.source_row: True for r in fixed.quarantined}
    assert new["rows_quarantined_current"] == len(fixed.quarantined)


def test_fixed_redelivery_participation(blackbox):
    got = {
        (p["source_record_id"], p["headcount"], p["source_file"])
        for p in blackbox["run2"]["participation"]
        if p["source"] == "wbpop-2021"
    }
    fixed_ids = {r.values["source_record_id"] for r in verdict("wbpop-2021", fixed=True).rows}
    want = {
        (
            r["source_record_id"],
            r["headcount"],
            "population_2021_fixed.csv" if r["source_record_id"] in fixed_ids else "population_2021.csv",
        )
        for r in expected_participation("run2")
        if r["source"] == "wbpop-2021"
    }
    assert got == want


# ---------------------------------------------------------------- reprocess after a config change


def test_reprocess_after_alias(blackbox):
    snap = blackbox["reprocess"]
    assert "population_2006.csv" in blackbox["reprocess_stdout"]
    before = _delivery(blackbox["run2"], "wbpop-2006")
    old = _delivery(snap, "wbpop-2006", status="superseded")
    new = _delivery(snap, "wbpop-2006", status="stored")
    assert old["batch_id"] == before["batch_id"]
    v = verdict("wbpop-2006", alias=True)
    assert (new["rows_read"], new["rows_stored"], new["rows_quarantined"]) == (
        v.read,
        len(v.stored),
        len(v.quarantined),
    )
    assert all(not q["current"] for q in _quarantine(snap, old["batch_id"]).values())
    assert old["rows_quarantined_current"] == 0
    assert {r: set(q["reasons"]) for r, q in _quarantine(snap, new["batch_id"]).items()} == {
        r.source_row: r.reasons for r in v.quarantined
    }
    assert all(q["current"] for q in _quarantine(snap, new["batch_id"]).values())
    chi = [p for p in snap["participation"] if p["source"] == "wbpop-2006" and p["nation"] == "GBR"]
    assert [(p["source_record_id"], p["framework"]) for p in chi] == [("Channel Islands", "ALLY")]
    # the other sources were not judged again
    for source in WB_SOURCES:
        if source != "wbpop-2006":
            file = _file(source).name
            assert _delivery(snap, source, file)["batch_id"] == _delivery(blackbox["run1"], source)["batch_id"]
