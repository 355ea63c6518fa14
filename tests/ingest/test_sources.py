"""Per-source configs: loading, checking, and the shipped ones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from txpipe.ingest.sources import SourceConfigError, load_source_config, parse_source_config
from txpipe.settings import REPO_ROOT


def test_missing_config_means_canonical_columns(tmp_path):
    config = load_source_config(tmp_path, "newsource")
    assert config.canonical_name(" Nation ") == "nation" and config.canonical_name("Email") is None


@pytest.mark.parametrize(
    "data,message",
    [
        ({"colums": {}}, "unknown key"),
        ({"columns": {"Land": "country"}}, "not a canonical column"),
        ({"defaults": {"participant_ref": "x"}}, "cannot have a default"),
        ({"defaults": {"source_record_id": "WB-POP"}}, "source_record_id cannot have a default"),  # issue 24
        ({"date_order": "YMD"}, "date_order"),
    ],
)
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


# Configs a careless or hostile co-worker writes: each must reject the source's files with a reason.
HOSTILE_CONFIGS = {
    "encoding_base64": ('encoding = "base64"', "not a text encoding"),
    "encoding_number": ("encoding = 5", "encoding must be a string"),
    "encoding_unknown": ('encoding = "klingon-8"', "no known text encoding"),
    "encoding_rot13": ('encoding = "rot13"', "not a text encoding"),
    "delimiter_two": ('delimiter = "ab"', "delimiter must be one character"),
    "delimiter_quote": ("delimiter = '\"'", "delimiter must be one character"),
    "delimiter_empty": ('delimiter = ""', "delimiter must be one character"),
    "columns_string": ('columns = "x"', "[columns] must be a table"),
    "aliases_string": ('aliases = "x"', "[aliases] must be a table"),
    "aliases_column_string": ('[aliases]\nstatus = "x"', "[aliases.status] must be a table"),
    "aliases_value_table": ("[aliases.status]\nx = {a = 1}", "must be a string or number"),
    "defaults_table": ("[defaults]\nprogramme = {a = 1}", "must be a string or number"),
    "defaults_inf": ("[defaults]\nscore = inf", "must be a string or number"),
    "columns_target_number": ('[columns]\n"Land" = 5', "not a canonical column"),
    "sheet_number": ("sheet = 3", "sheet must be a string"),
    "date_order_array": ("date_order = []", "date_order must be a string"),
    "description_huge_float": ("description = 1e400", "description must be a string"),
    "nested_arrays": ("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    "not_utf8": (b'description = "\xff\xfe"', "not UTF-8"),
    "broken_toml": ("columns = [", "not valid TOML"),
    "dates_string": ('dates = "Year"', "[dates] must be a table"),
    "dates_period_number": ("[dates]\nperiod = 2025", "[dates] period must be a string"),
    "dates_misspelt": ('[dates]\nperod = "Year"', "unknown key"),
    "dates_with_start_date": ('[dates]\nperiod = "Year"\n[columns]\n"Beginn" = "start_date"', "[dates] period"),
    "quarantine_number": ("quarantine = 0.5", "[quarantine] must be a table"),
    "quarantine_above_one": ("[quarantine]\nmax_share = 1.5", "max_share must be a number from 0 to 1"),
    "quarantine_string": ('[quarantine]\nmax_share = "0.9"', "max_share must be a number from 0 to 1"),
    "quarantine_nan": ("[quarantine]\nmax_share = nan", "max_share must be a number from 0 to 1"),
    "quarantine_misspelt": ("[quarantine]\nmaxshare = 0.5", "unknown key"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CONFIGS))
def test_hostile_configs_reject_the_source_with_a_reason(tmp_path, name):
    text, message = HOSTILE_CONFIGS[name]
    source = name.replace("_", "-")
    path = tmp_path / f"{source}.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(SourceConfigError) as caught:
        load_source_config(tmp_path, source)
    assert message in str(caught.value)


def test_a_config_that_is_a_folder_is_a_rejection(tmp_path):
    (tmp_path / "odd.toml").mkdir()
    with pytest.raises(SourceConfigError, match="cannot be read"):
        load_source_config(tmp_path, "odd")


def test_hostile_configs_end_as_rejected_deliveries(settings, landing, tmp_path, monkeypatch):
    """Through the whole ingest: every delivery of a badly configured source is rejected, none crashes."""
    from tests.conftest import ingest_all, row, write_csv
    from txpipe.settings import Settings

    configs = tmp_path / "sources"
    configs.mkdir()
    for name, (text, _) in HOSTILE_CONFIGS.items():
        source = name.replace("_", "-")
        (configs / f"{source}.toml").write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        write_csv(landing / source / "roster.csv", [row()])
    monkeypatch.setenv("TXPIPE_SOURCES_DIR", str(configs))
    records = ingest_all(Settings.from_env(), landing)
    assert len(records) == len(HOSTILE_CONFIGS)
    assert {r.status for r in records} == {"rejected"}
    assert all(r.reason and r.rows_read == 0 for r in records)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "description",
                "encoding",
                "delimiter",
                "sheet",
                "date_order",
                "columns",
                "defaults",
                "aliases",
                "dates",
                "quarantine",
            ]
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.dates(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
            max_leaves=8,
        ),
    )
)
@settings_(max_examples=300, deadline=None)
def test_any_config_shape_parses_or_is_refused_with_a_reason(data):
    data = {k: v for k, v in data.items() if v is not None}
    try:
        config = parse_source_config("x", data)
    except SourceConfigError as error:
        assert str(error)
    else:
        config.read_options()  # what a reader is given is usable
