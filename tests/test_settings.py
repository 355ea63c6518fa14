"""Settings: every TXPIPE_ variable read in one place; a wrong value is a clear refusal naming the
variable (never echoing the value); the pseudonym key never shows in a repr or a flow's parameters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from txpipe.settings import BUILD_MEMORY_LIMIT, DEFAULT_MAX_QUARANTINE_SHARE, Settings

NUMBERS = {  # variable -> (Settings attribute, smallest allowed, largest allowed)
    "TXPIPE_WORKERS": ("workers", 1, None),
    "TXPIPE_CHUNK_ROWS": ("chunk_rows", 1, None),
    "TXPIPE_MAX_FIELD_CHARS": ("limits.field_chars", 1, None),
    "TXPIPE_MAX_SHEET_ROWS": ("limits.sheet_rows", 1, None),
    "TXPIPE_MAX_QUARANTINE_SHARE": ("max_quarantine_share", 0, 1),
}


REFUSALS = {
    f" must be {what}{tail}"
    for what in ("a whole number, at least 1", "a number between 0 and 1")
    for tail in ("", ", got a value that is not a number")
}


def attribute(settings: Settings, dotted: str) -> object:
    value: object = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def test_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings.home == Path("data").resolve()
    assert settings.pseudonym_key is None and settings.pseudonym_secret() is None
    assert settings.workers == (os.cpu_count() or 1)
    assert settings.build_memory == BUILD_MEMORY_LIMIT
    assert settings.max_quarantine_share == DEFAULT_MAX_QUARANTINE_SHARE
    assert (settings.nightly_cron, settings.weekly_cron) == (None, None)  # as prefect.yaml declares


def test_every_variable_is_read():
    env = {
        "TXPIPE_HOME": "/tmp/h",
        "TXPIPE_WORKERS": "3",
        "TXPIPE_DUCKDB_MEMORY": "2GB",
        "TXPIPE_MAX_QUARANTINE_SHARE": "0.5",
        "TXPIPE_NIGHTLY_CRON": "5 1 * * *",
        "TXPIPE_WEEKLY_CRON": "0 3 * * 6",
        "TXPIPE_CHUNK_ROWS": "7",
        "TXPIPE_MAX_XLSX_BYTES": "1000",
        "TXPIPE_PSEUDONYM_KEY": "k-123",
    }
    s = Settings.from_env(env)
    assert (s.home, s.workers, s.build_memory, s.max_quarantine_share) == (Path("/tmp/h"), 3, "2GB", 0.5)
    assert (s.nightly_cron, s.weekly_cron, s.chunk_rows, s.limits.xlsx_bytes) == ("5 1 * * *", "0 3 * * 6", 7, 1000)
    assert s.pseudonym_secret() == "k-123"


@given(variable=st.sampled_from(sorted(NUMBERS)), text=st.text(min_size=1, max_size=12))
def test_a_number_variable_is_a_valid_value_or_a_refusal_naming_it(variable, text):
    """Any text at all: either the value the rule allows, or a ValueError that names the variable and
    does not repeat what was delivered in it."""
    name, low, high = NUMBERS[variable]
    try:
        value = attribute(Settings.from_env({variable: text}), name)
    except ValueError as error:
        # one of the fixed sentences, so nothing delivered in the variable is repeated
        assert str(error).removeprefix(variable) in REFUSALS, str(error)
        return
    if not text.strip():
        return  # blank: the default
    assert isinstance(value, int | float) and value >= low and (high is None or value <= high)


@pytest.mark.parametrize("text", ["many", "0", "-2", "1.5"])
def test_workers_must_be_a_whole_number_of_at_least_one(text):
    with pytest.raises(ValueError, match=r"^TXPIPE_WORKERS must be a whole number, at least 1"):
        Settings.from_env({"TXPIPE_WORKERS": text})


def test_the_pseudonym_key_never_shows_in_a_repr_or_a_flows_recorded_parameters():
    from prefect import flow

    settings = Settings.from_env({"TXPIPE_PSEUDONYM_KEY": "very-secret-key"})

    @flow
    def noop(settings: Settings) -> None:
        return None

    recorded = noop.serialize_parameters({"settings": settings})  # what Prefect sends to its API
    assert "very-secret-key" not in repr(settings) and "very-secret-key" not in str(recorded)
    assert recorded["settings"]["home"] == str(settings.home)  # the rest is recorded as it is


def test_the_command_line_refuses_a_wrong_variable_in_one_line_with_status_2(tmp_path, monkeypatch):
    from txpipe.cli import app, runs

    monkeypatch.setattr(runs, "apply_prefect_defaults", lambda: None)  # keep this process's environment
    monkeypatch.setenv("TXPIPE_HOME", str(tmp_path))
    monkeypatch.setenv("TXPIPE_WORKERS", "lots-of-them")
    result = CliRunner().invoke(app, ["build"])
    assert result.exit_code == 2, result.output
    assert "TXPIPE_WORKERS must be a whole number" in result.output and "lots-of-them" not in result.output
    assert not (tmp_path / "warehouse").exists()  # nothing ran
