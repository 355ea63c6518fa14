"""The validation report opens offline: no remote scripts, styles or fonts; it names every file."""

from __future__ import annotations

import re

from tests.conftest import SAMPLE_LANDING, ingest_all
from txpipe.outputs.validation_report import write_validation_report
from txpipe.store.ledger import Ledger

REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?\s*(?:https?:)?//""", re.I)


def test_report_is_self_contained_and_complete(settings):
    records = ingest_all(settings, SAMPLE_LANDING)
    path = write_validation_report(settings, Ledger.of(settings).records())
    html = path.read_text(encoding="utf-8")
    assert not REMOTE.search(html)
    assert "<script" not in html.lower()
    for record in records:
        assert record.source_file in html
    assert "conflicting_duplicate" in html and "missing required column(s) nation" in html


def test_remote_reference_detector_can_fail():
    assert REMOTE.search('<link rel=stylesheet href="https://cdn.example/x.css">')
    assert REMOTE.search("<script src=//cdn.example/x.js></script>")
    assert not REMOTE.search('<a href="#rules">rules</a>')


def test_unknown_nations_get_the_closest_reference_nations_never_the_value(settings, landing):
    """A nation_unknown row carries "did you mean" reference nations in its offending values, the ledger
    counts them and the report shows them; the delivered spelling appears in neither the ledger nor the report."""
    import json

    from tests.conftest import read_parquet_rows, row, write_csv

    write_csv(
        landing / "ptec" / "r.csv",
        [
            row(source_record_id="A", nation="Georgiaa"),
            row(source_record_id="B", nation="Repubic of Korea"),
            row(source_record_id="C", nation="Georgia (US state)"),
        ],
    )
    [record] = ingest_all(settings, landing)
    offending = {q["source_row"]: json.loads(q["offending_values"]) for q in read_parquet_rows(settings.quarantine_dir)}
    assert offending[2]["nation"] == "Georgiaa" and offending[2]["nation_did_you_mean"][0] == "Georgia (GEO)"
    assert offending[3]["nation_did_you_mean"][0] == "Republic of Korea (KOR)"
    assert offending[4]["nation"] == "Georgia (US state)"  # quarantined, never resolved to GEO
    assert record.nation_suggestions == {"Georgia (GEO)": 1, "Republic of Korea (KOR)": 1}
    html = write_validation_report(settings, Ledger.of(settings).records()).read_text(encoding="utf-8")
    assert "did you mean: Georgia (GEO) (1), Republic of Korea (KOR) (1)" in html
    ledger_text = "".join(p.read_text() for p in settings.ledger_dir.glob("*.json"))
    for delivered in ("Georgiaa", "Repubic", "US state"):
        assert delivered not in html and delivered not in ledger_text


def test_delivered_names_are_escaped(settings, landing):
    """A source folder or file name is shown as text: the report holds no element made from it."""
    from tests.conftest import row, write_csv

    payload = "<img src=x onerror=document.title='XSS'>"
    write_csv(landing / payload / "r.csv", [row()])
    write_csv(landing / "ptec" / "<u>roster.csv", [row()])
    ingest_all(settings, landing)
    html = write_validation_report(settings, Ledger.of(settings).records()).read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=document.title=" in html and "&lt;u&gt;roster.csv" in html
    assert not re.search(r"<img|<u>", html, re.I)
