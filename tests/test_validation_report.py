"""The validation report opens offline: no remote scripts, styles or fonts; it names every file."""

from __future__ import annotations

import re

from tests.conftest import SAMPLE_LANDING, ingest_all
from txpipe.ledger import Ledger
from txpipe.validation_report import write_validation_report

REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|@import|url\(\s*["']?\s*(?:https?:)?//""", re.I)


def test_report_is_self_contained_and_complete(settings):
    records = ingest_all(settings, SAMPLE_LANDING)
    path = write_validation_report(settings, Ledger(settings.ledger_dir).records())
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
