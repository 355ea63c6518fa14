"""Normalisation: nations, enums, dates, pseudonyms and column mapping."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from txpipe.ingest.pseudonym import Pseudonymizer
from txpipe.ingest.readers import UnreadableFile
from txpipe.ingest.sources import SourceConfig, parse_source_config
from txpipe.ingest.values import delivered_values, normalize, parse_date, plan_columns


@pytest.mark.parametrize(
    "spelling,code",
    [
        ("Republic of Korea", "KOR"),
        ("KR", "KOR"),
        ("Korea, Republic of", "KOR"),
        ("Republic of Moldova", "MDA"),
        ("Türkiye", "TUR"),
        ("Turkey", "TUR"),
        (" georgia ", "GEO"),
        ("GE", "GEO"),
        ("geo", "GEO"),
        ("United Kingdom", "GBR"),
        ("European Union", "XEU"),
        ("XUN", "XUN"),
        ("Bosnia and Herzegovina", "BIH"),
        ("AU", "AUS"),
        ("Finland", "FIN"),
    ],
)
def test_nation_spellings_resolve(reference, spelling, code):
    assert reference.resolve_nation(spelling) == code


def test_unresolvable_nation_is_passed_on_unchanged(reference):
    assert reference.resolve_nation(" Narnia ") == "Narnia"
    assert reference.resolve_nation("Brazil") == "BRA"  # resolves, then fails nation_unknown
    assert reference.resolve_nation("  ") is None


@pytest.mark.parametrize(
    "value,order,expected",
    [
        ("2024-03-04", "ISO", "2024-03-04"),
        ("2024-03-04T00:00:00", "ISO", "2024-03-04"),
        ("04.03.2024", "DMY", "2024-03-04"),
        ("04/03/2024", "DMY", "2024-03-04"),
        ("2024-03-04", "DMY", "2024-03-04"),
        ("03/04/2024", "MDY", "2024-03-04"),
        ("04.03.2024", "ISO", "04.03.2024"),
        ("2024-02-30", "ISO", "2024-02-30"),
        ("31/02/2024", "DMY", "31/02/2024"),
    ],
)
def test_dates(value, order, expected):
    assert parse_date(value, order) == expected


def test_pseudonyms_are_keyed_per_source_and_stable():
    one, two = Pseudonymizer("k1"), Pseudonymizer("k2")
    assert one.pid("nso", "P1") == one.pid("nso", " P1 ")
    assert one.pid("nso", "P1") != one.pid("jftc", "P1")
    assert one.pid("nso", "P1") != two.pid("nso", "P1")
    assert len(one.pid("nso", "P1")) == 64 and "P1" not in one.pid("nso", "P1")


@pytest.mark.parametrize(
    "key", ["k", "x" * 64, "a much longer key than one SHA-256 block of sixty-four bytes, ünïcode"]
)
def test_column_pseudonyms_are_hmac_sha256_of_source_and_ref(key):
    """The definition is the standard library's HMAC-SHA256 of source and stripped ref, for short,
    block-sized and long keys (the SQL that computes it is held equal to it in test_ingest_sets.py)."""
    refs = ["P1", " P-0002 ", "Ärzte-7", "x" * 300]
    expected = [hmac.new(key.encode(), f"mtep\x1f{r.strip()}".encode(), hashlib.sha256).hexdigest() for r in refs]
    assert [Pseudonymizer(key).pid("mtep", r) for r in refs] == expected


def test_development_key_is_flagged(caplog):
    assert Pseudonymizer(None).is_development_key
    assert "DEVELOPMENT" in caplog.text


def test_config_mapping_defaults_aliases_and_enums(reference):
    config = parse_source_config(
        "nso",
        {
            "date_order": "DMY",
            "columns": {
                "Course": "activity_code",
                "Country": "nation",
                "Result": "status",
                "Student No.": "participant_ref",
                "Record": "source_record_id",
                "Start": "start_date",
                "End": "end_date",
                "Gender": "sex",
            },
            "defaults": {"programme": "education", "provider": "NSO"},
            "aliases": {"status": {"Graduated": "passed"}, "sex": {"W": "F"}},
        },
    )
    headers = ["Record", "  course ", "Country", "Result", "Student No.", "Start", "End", "Gender", "E-mail", "ROLE"]
    plan = plan_columns(headers, config)
    assert plan.ignored == ("E-mail",)
    frame = pd.DataFrame(
        [["1", "n5-35", "Georgia", "GRADUATED", "P1", "04.03.2024", "08.03.2024", "w", "x@y", "Training_Audience"]],
        columns=headers,
        dtype="string",
    )
    delivered = delivered_values(frame, plan).rename(columns={"participant_ref": "participant_pid"})
    out = normalize(delivered, config, reference).iloc[0].to_dict()
    assert out["activity_code"] == "N5-35" and out["nation"] == "GEO" and out["status"] == "passed"
    assert out["sex"] == "F" and out["role"] == "training_audience" and out["programme"] == "education"
    assert out["provider"] == "NSO" and out["start_date"] == "2024-03-04" and out["headcount"] == "1"
    assert out["participant_pid"] == "P1" and "participant_ref" not in out  # pseudonymised by the workspace


def test_missing_required_columns_and_double_mapping_reject_the_file():
    config = SourceConfig(name="t")
    with pytest.raises(UnreadableFile, match=r"missing required column.*nation, status"):
        plan_columns(["source_record_id", "programme", "activity_code", "start_date", "end_date"], config)
    doubled = parse_source_config("t", {"columns": {"Country": "nation"}})
    with pytest.raises(UnreadableFile, match="columns 1 and 2 both map to 'nation'"):
        plan_columns(["nation", "Country"], doubled)


def test_a_header_row_that_is_data_is_never_quoted():
    """A CSV without its header row: the first data row is taken as headers; the reason names counts only."""
    first_row = [
        "EVIL-0003",
        "training",
        "N5-35",
        "2024-03-04",
        "GEO",
        "person3.hostile@example.org",
        "+41 79 555 01 02",
    ]
    with pytest.raises(UnreadableFile) as caught:
        plan_columns(first_row, SourceConfig(name="t"))
    reason = str(caught.value)
    assert "7 field(s) and no known column name" in reason
    assert not [value for value in first_row if value in reason]


def test_ignored_columns_keep_names_only_when_they_look_like_names():
    headers = [
        "source_record_id",
        "programme",
        "activity_code",
        "start_date",
        "end_date",
        "nation",
        "status",
        "E-mail",
        "person@example.org",
        "+41 79 555 01 02",
        "2024-03-04",
        "Student No.",
        "x" * 60,
    ]
    plan = plan_columns(headers, SourceConfig(name="t"))
    assert plan.ignored == ("E-mail", "(column 9)", "(column 10)", "(column 11)", "Student No.", "(column 13)")


def test_a_missing_column_message_names_known_columns_only():
    headers = ["source_record_id", "programme", "alice@example.org", "activity_code", "start_date", "end_date"]
    with pytest.raises(UnreadableFile) as caught:
        plan_columns(headers, SourceConfig(name="t"))
    reason = str(caught.value)
    assert "missing required column(s) nation, status" in reason and "alice" not in reason
    assert "activity_code (column 4)" in reason
