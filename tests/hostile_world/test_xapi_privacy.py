"""A real LRS export (kokea.json) and statements by every kind of learner identifier, through the real
`txpipe run`: no learner's name, e-mail address, account name or raw identifier appears in any output
(lake, quarantine, warehouse, marts, dashboard, reports, ledger, console, Prefect's files and database),
while the records themselves are stored and counted (issue 13, README "xAPI sources")."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.hostile_world import harness

pytestmark = [pytest.mark.integration, pytest.mark.deep]

KOKEA = Path(__file__).resolve().parents[1] / "data" / "xapi" / "kokea.json"
ADL = "http://adlnet.gov/expapi/verbs/"
ACTIVITY = "https://xapinet.org/kokea-concepts/activities/"
NATIONS = [
    "GEO",
    "ARM",
    "MDA",
    "UKR",
    "AZE",
    "KAZ",
    "UZB",
    "SRB",
    "BIH",
    "AUT",
    "CHE",
    "IRL",
    "MLT",
    "SWE",
    "FIN",
    "JOR",
]

# Learners of the second file, one per kind of identifier, each with a name that must never show.
OTHERS = [
    (
        {"name": "Zebedee Quarrington", "account": {"homePage": "https://lms.example.net", "name": "acct-zq7-learner"}},
        "ARM",
    ),
    ({"name": "Ottoline Vasquez-Brel", "openid": "https://openid.example.net/ottoline-vb-9931"}, "GEO"),
    (
        {"name": "Perpetua Nightingale", "mbox_sha1sum": hashlib.sha1(b"mailto:perpetua.n@example.net").hexdigest()},
        "MDA",
    ),
]
GROUP = {
    "objectType": "Group",
    "name": "Cohort Wolfram Delacroix",
    "member": [{"name": "Wolfram Delacroix", "mbox": "mailto:wolfram.delacroix@example.net"}],
}


def _identities(value, found: dict[str, str]) -> None:
    """Every agent's name and identifier anywhere in a statement (actor, objects, context, members)."""
    if isinstance(value, dict):
        if (
            "mbox" in value
            or "account" in value
            or "openid" in value
            or "mbox_sha1sum" in value
            or value.get("objectType") in ("Agent", "Group")
        ):
            for key in ("name", "mbox", "mbox_sha1sum", "openid"):
                if isinstance(value.get(key), str):
                    found[f"{key} {value[key]}"] = value[key]
            if isinstance(value.get("mbox"), str):  # the address without its scheme, and its local part
                address = value["mbox"].removeprefix("mailto:")
                found[f"address {address}"] = address
                found[f"local part {address}"] = address.split("@")[0]
            if isinstance(value.get("account"), dict) and isinstance(value["account"].get("name"), str):
                found[f"account {value['account']['name']}"] = value["account"]["name"]
        for item in value.values():
            _identities(item, found)
    elif isinstance(value, list):
        for item in value:
            _identities(item, found)


def _statement(actor: dict, verb: str, when: str, code: str = "Kokea-LMS", **extra) -> dict:
    return {
        "actor": actor,
        "verb": {"id": ADL + verb},
        "timestamp": when,
        "object": {"id": ACTIVITY + code, "definition": {"name": {"en-US": "Kokea LMS"}}},
        **extra,
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory, prefect_home):
    root = tmp_path_factory.mktemp("xapi-privacy")
    landing, sources = root / "landing", root / "sources"
    (landing / "kokea").mkdir(parents=True)
    sources.mkdir()
    shutil.copy(KOKEA, landing / "kokea" / "kokea.json")
    statements = json.loads(KOKEA.read_text(encoding="utf-8"))
    mboxes = sorted({s["actor"]["mbox"] for s in statements})
    roster = ["learner,nation"] + [f"{mbox},{nation}" for mbox, nation in zip(mboxes, NATIONS, strict=False)]
    others = []
    for actor, nation in OTHERS:
        key = (
            actor.get("mbox_sha1sum")
            or actor.get("openid")
            or f"{actor['account']['homePage']}|{actor['account']['name']}"
        )
        roster.append(f"{key},{nation}")
        others += [
            _statement(actor, "launched", "2017-02-01T09:00:00Z"),
            _statement(
                actor, "passed", "2017-02-01T10:00:00+02:00", result={"success": True, "score": {"scaled": 0.9}}
            ),
        ]
    others.append(_statement(GROUP, "attended", "2017-02-02T09:00:00Z"))
    others.append(_statement({"name": "Anonymous Albrecht Kessler"}, "attended", "2017-02-02T09:00:00Z"))
    (landing / "kokea" / "others.jsonl").write_text("\n".join(json.dumps(s) for s in others) + "\n", encoding="utf-8")
    (landing / "kokea" / "learners.csv").write_text("\n".join(roster) + "\n", encoding="utf-8")
    (sources / "kokea.toml").write_text(
        f"""format = "xapi"
[xapi]
roster = "learners.csv"
[xapi.activities]
"{ACTIVITY}Delivering-the-Kokea-Value" = "ADL-169"
"{ACTIVITY}Delivering-the-Kokea-Value-Assessment" = "ADL-073"
"{ACTIVITY}Kokea-LMS" = "ADL-131"
"{ACTIVITY}Developing-a-Growth-Mindset" = "ADL-201"
[defaults]
provider = "JADL"
""",
        encoding="utf-8",
    )
    home = root / "home"
    env = harness.base_env(home, prefect_home, sources)
    result = harness.run_txpipe(["run", "--landing", str(landing)], env, cwd=root)
    secrets: dict[str, str] = {}
    _identities(statements + others, secrets)
    return {
        "result": result,
        "home": home,
        "secrets": secrets,
        "snapshot": harness.snapshot(home, prefect_home, result),
    }


def test_the_run_stores_the_records_and_counts_every_statement(run):
    assert run["result"].returncode == 0, run["result"].tail()
    ledger = {r["source_file"]: r for r in harness.ledger_records(run["home"])}
    assert set(ledger) == {"kokea.json", "others.jsonl"}  # the roster is not a delivery
    assert ledger["kokea.json"]["statements"] == {"read": 385, "used": 119, "ignored": 264, "quarantined": 2}
    assert ledger["others.jsonl"]["statements"] == {"read": 8, "used": 6, "ignored": 0, "quarantined": 2}
    assert ledger["others.jsonl"]["quarantine_reasons"] == {"xapi_actor_group": 1, "xapi_actor_missing": 1}
    assert ledger["others.jsonl"]["rows_stored"] == 3
    [report] = harness.run_reports(run["home"]).values()
    assert {d["source_file"]: d["statements"]["read"] for d in report["deliveries"]} == {
        "kokea.json": 385,
        "others.jsonl": 8,
    }
    assert any(s["path"] == "kokea/learners.csv" for s in report["skipped"])
    assert "xAPI statements kokea/kokea.json: 385 read = 119 used + 264 ignored + 2 quarantined" in run["result"].text()
    tables = harness.warehouse_tables(run["home"] / "warehouse" / "txpipe.duckdb")
    deliveries = {r["source_file"]: r for r in tables["deliveries"]}
    assert [deliveries["kokea.json"][f"statements_{k}"] for k in ("read", "used", "ignored", "quarantined")] == [
        385,
        119,
        264,
        2,
    ]
    stored = [r for r in tables["participation"] if r["source"] == "kokea"]
    assert ledger["kokea.json"]["rows_stored"] > 0
    assert len(stored) == ledger["kokea.json"]["rows_stored"] + 3
    assert {r["nation"] for r in stored} <= set(NATIONS)


def test_no_name_address_account_or_identifier_appears_anywhere(run):
    secrets = run["secrets"]
    assert len(secrets) > 60  # 16 kokea learners (name, mbox, address, local part) and the others
    names = [k for k in secrets if k.startswith("name ")]
    assert len(names) >= 16 + 3 + 2, names  # names of kokea's learners, the others, the group and its member
    leaks = [leak for category in harness.CATEGORIES for leak in run["snapshot"].leaks(category, secrets)]
    assert leaks == []
