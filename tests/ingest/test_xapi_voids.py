"""Issue 24, item 4: voids across exports, on the reader's side (README "xAPI sources"). A later export
of an LRS may void a statement of an earlier one: the reader takes the void fingerprints of the
source's other exports (``StatementSetup.voided_elsewhere``) and applies them as it applies the
export's own voids, and it gives the fingerprints of the export's own voids
(``StatementSetup.void_targets``, sorted) for the ledger. Real statements: the ADL conformance
exports of tests/data/xapi (NOTICE.md), the second voiding the openid learner's statement of the first."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import examples
from txpipe.ingest.readers import ReadOptions, read_delivery
from txpipe.ingest.xapi_statements import ADL, VOIDED, XapiConfig, participations

DATA = Path(__file__).resolve().parents[1] / "data" / "xapi"
MEETING = "http://www.example.com/meetings/occurances/34534"
VOIDED_BY_EXPORT_2 = "2b7d8a0e-6e3f-4b8f-9a51-0c6f3d1e7a06"  # the openid learner's statement in export 1
CONFIG = XapiConfig(nation="GEO", activities={MEETING: "ADL-169"})


def _read(name: str | Path, voided_elsewhere: frozenset[str] = frozenset()):
    """The export read as the pipeline reads it: (setup, rows, quarantined issues)."""
    from txpipe.ingest.readers.xapi import StatementSetup

    setup = StatementSetup(
        CONFIG, {}, lambda key: hashlib.sha256(key.encode()).hexdigest(), voided_elsewhere=voided_elsewhere
    )
    batches = list(read_delivery(DATA / name, ReadOptions(statements=setup)).batches)
    rows = pd.concat([b.frame for b in batches])
    return setup, rows, [issue for b in batches for issue in b.issues]


def test_void_fingerprint_is_the_sha256_of_the_lower_case_id():
    from txpipe.ingest.xapi_statements import void_fingerprint

    want = hashlib.sha256(VOIDED_BY_EXPORT_2.encode()).hexdigest()[:32]
    assert void_fingerprint(VOIDED_BY_EXPORT_2) == want
    assert void_fingerprint(VOIDED_BY_EXPORT_2.upper()) == want
    assert void_fingerprint(f" {VOIDED_BY_EXPORT_2}\n") == want


def test_an_export_gives_the_fingerprints_of_the_statements_it_voids_sorted():
    from txpipe.ingest.xapi_statements import void_fingerprint

    setup, _, _ = _read("adl-conformance-2.jsonl")  # its void names the target in upper case
    assert setup.void_targets == [void_fingerprint(VOIDED_BY_EXPORT_2)]
    assert (setup.counts.read, setup.counts.used, setup.counts.ignored) == (2, 1, 1)
    assert _read("adl-conformance-1.json")[0].void_targets == []  # voids nothing
    assert VOIDED_BY_EXPORT_2 not in json.dumps(setup.void_targets)


def test_a_void_from_a_later_export_removes_the_statement_of_an_earlier_one():
    from txpipe.ingest.xapi_statements import void_fingerprint

    alone, rows_alone, _ = _read("adl-conformance-1.json")
    later, _, _ = _read("adl-conformance-2.jsonl")
    voided, rows, issues = _read("adl-conformance-1.json", frozenset(later.void_targets))
    assert (alone.counts.read, alone.counts.used, alone.counts.ignored) == (8, 3, 5)
    # the openid learner's statement (position 7) is voided: counted ignored, as a void in the export is
    assert (voided.counts.read, voided.counts.used, voided.counts.ignored, voided.counts.quarantined) == (8, 2, 6, 0)
    assert list(rows_alone.index) == [1, 6, 7] and list(rows.index) == [1, 6] and issues == []
    assert not rows["participant_ref"].str.startswith("openid:").any()
    assert voided.void_targets == []  # only the export's own voids
    unrelated = frozenset({void_fingerprint("00000000-0000-4000-8000-000000000000")})
    assert _read("adl-conformance-1.json", unrelated)[0].counts.used == 3


def test_a_void_from_elsewhere_applies_to_json_lines_as_to_arrays(tmp_path):
    from txpipe.ingest.xapi_statements import void_fingerprint

    statements = json.loads((DATA / "adl-conformance-1.json").read_text(encoding="utf-8"))
    lines = tmp_path / "export.jsonl"
    lines.write_text("".join(json.dumps(s) + "\n" for s in statements), encoding="utf-8")
    setup, rows, _ = _read(lines, frozenset({void_fingerprint(VOIDED_BY_EXPORT_2)}))  # an absolute path
    assert (setup.counts.used, setup.counts.ignored) == (2, 6) and list(rows.index) == [1, 6]


def test_a_quarantined_statement_stays_quarantined_when_voided_elsewhere():
    from txpipe.ingest.xapi_statements import void_fingerprint

    broken = {
        "id": "a-1",
        "actor": {"mbox": "mailto:a@example.org"},
        "verb": {"id": ADL + "attended"},
        "object": {"id": MEETING},
        "timestamp": "yesterday",
    }
    outcome = participations([(1, broken)], voided_elsewhere=frozenset({void_fingerprint("A-1")}))
    assert (outcome.used, outcome.ignored, [q.rule for q in outcome.quarantined]) == (0, 0, ["xapi_timestamp_invalid"])


# The property: a void from another export acts exactly as the same void delivered in this export.

IDS = [f"6690e6c9-3ef0-4ed3-8b37-{n:012d}" for n in range(6)]


@st.composite
def exports(draw):
    statements = []
    for position in range(1, draw(st.integers(0, 12)) + 1):
        statement = {
            "actor": {"mbox": f"mailto:{draw(st.sampled_from('abc'))}@example.org"},
            "verb": {"id": ADL + draw(st.sampled_from(["attended", "passed", "viewed", "completed"]))},
            "object": {"id": draw(st.sampled_from([MEETING, MEETING + "/2"]))},
            "timestamp": f"2024-03-{draw(st.integers(1, 28)):02d}T10:00:00Z",
        }
        if draw(st.integers(0, 9)) == 0:
            statement["timestamp"] = "not a time"
        if draw(st.integers(0, 4)):
            statement["id"] = draw(st.sampled_from(IDS))
        statements.append((position, statement))
    voids = draw(st.frozensets(st.sampled_from(IDS + [i.upper() for i in IDS])))
    return statements, voids


def _summary(outcome) -> tuple:
    records = sorted(
        (r.learner, r.activity, r.status, r.start_date, tuple(sorted(r.positions))) for r in outcome.records
    )
    return records, outcome.used, sorted((q.position, q.rule) for q in outcome.quarantined)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports())
def test_voids_from_elsewhere_act_as_the_same_voids_in_the_export(case):
    from txpipe.ingest.xapi_statements import void_fingerprint

    statements, voids = case
    voiders = [
        {
            "actor": {"mbox": "mailto:lrs@example.org"},
            "verb": {"id": VOIDED},
            "object": {"objectType": "StatementRef", "id": target},
            "timestamp": "2024-04-01T00:00:00Z",
        }
        for target in sorted(voids)
    ]
    here = participations(statements + list(enumerate(voiders, start=len(statements) + 1)))
    elsewhere = participations(
        copy.deepcopy(statements), voided_elsewhere=frozenset(void_fingerprint(v) for v in voids)
    )
    assert _summary(elsewhere) == _summary(here)
    assert elsewhere.ignored == here.ignored - len(voiders)
    assert elsewhere.read == len(statements)
