"""What README "Adding a source" and the rule table promise about configs and activity codes, held to the
code: the example configs parse, the activity code grammar written there is the suite's, and
``[aliases.activity_code]`` turns a delivered code into a valid one."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from tests.conftest import row, write_csv
from tests.ingest.configured import ingest_with_config
from txpipe.ingest.sources import parse_source_config
from txpipe.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SUITE = json.loads((REPO_ROOT / "expectations" / "participation.json").read_text(encoding="utf-8"))


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    return README[start : README.index("\n## ", start + 1)]


def toml_examples() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", section("Adding a source (no code)"), flags=re.S)


def test_every_example_config_in_adding_a_source_parses():
    examples = toml_examples()
    assert len(examples) >= 2
    for text in examples:
        parse_source_config("example", tomllib.loads(text))


def test_the_examples_show_the_empty_header_periods_activity_aliases_and_the_quarantine_limit():
    configs = [parse_source_config("example", tomllib.loads(text)) for text in toml_examples()]
    assert any("" in c.columns for c in configs)
    assert any(c.period for c in configs)
    assert any("activity_code" in c.aliases for c in configs)
    assert any(c.max_quarantine_share is not None for c in configs)


def test_the_readme_writes_the_activity_code_grammar_the_suite_enforces():
    [expectation] = [e for e in SUITE["expectations"] if e["meta"]["rule"] == "activity_code_malformed"]
    assert f"`{expectation['kwargs']['regex']}`" in README


@pytest.mark.parametrize("code", ["UNMISS", "PKO-MINUJUSTH", "N5 35", "N123-35", "N5-1234567"])
def test_codes_the_readme_calls_malformed_are(code):
    [expectation] = [e for e in SUITE["expectations"] if e["meta"]["rule"] == "activity_code_malformed"]
    assert not re.match(expectation["kwargs"]["regex"], code)
    assert f"`{code}`" in section("Delivering data (the landing format)")


def test_an_activity_code_alias_makes_a_delivered_code_valid(settings, landing, tmp_path, monkeypatch):
    path = write_csv(
        tmp_path / "x.csv", [row(activity_code="unmiss"), row(source_record_id="R2", activity_code="MINUSCA")]
    )
    config = '[aliases.activity_code]\n"UNMISS" = "UN-UNMISS"\n'
    _, stored, quarantined = ingest_with_config(landing, tmp_path, monkeypatch, config, {"a.csv": path.read_bytes()})
    assert stored["R1"]["activity_code"] == "UN-UNMISS"
    [bad] = quarantined
    assert bad["reasons"] == ["activity_code_malformed"]
