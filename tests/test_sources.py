"""Per-source configs: loading, checking, and the shipped ones."""

from __future__ import annotations

import pytest

from txpipe.settings import REPO_ROOT
from txpipe.sources import SourceConfigError, load_source_config, parse_source_config


def test_missing_config_means_canonical_columns(tmp_path):
    config = load_source_config(tmp_path, "newsource")
    assert config.canonical_name(" Nation ") == "nation" and config.canonical_name("Email") is None


@pytest.mark.parametrize("data,message", [
    ({"colums": {}}, "unknown key"),
    ({"columns": {"Land": "country"}}, "not a canonical column"),
    ({"defaults": {"participant_ref": "x"}}, "cannot have a default"),
    ({"date_order": "YMD"}, "date_order"),
])
def test_bad_configs_fail_loudly(data, message):
    with pytest.raises(SourceConfigError, match=message):
        parse_source_config("x", data)


def test_bad_source_folder_name_and_bad_toml(tmp_path):
    with pytest.raises(SourceConfigError, match="lower-case"):
        load_source_config(tmp_path, "My Source")
    (tmp_path / "bad.toml").write_text("columns = [", encoding="utf-8")
    with pytest.raises(SourceConfigError, match="not valid TOML"):
        load_source_config(tmp_path, "bad")


@pytest.mark.parametrize("name", ["nso", "mtep"])
def test_shipped_configs_load(name):
    config = load_source_config(REPO_ROOT / "data" / "sources", name)
    assert config.columns and config.defaults
