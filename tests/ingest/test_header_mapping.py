"""How a source config's ``[columns]`` meet the delivered headers (README "Adding a source"): the empty
header (R's write.csv leaves the first one empty) mapped with the key ``""``, keys that match no
delivered header counted as ``column_not_delivered``, and a real-world R export through the whole ingest."""

from __future__ import annotations

import json

import pytest
from openpyxl import Workbook

from tests.conftest import row
from tests.ingest.configured import ingest_with_config
from txpipe.ingest.readers import BlankHeader, UnreadableFile, check_headers
from txpipe.ingest.sources import SourceConfig, parse_source_config
from txpipe.ingest.values import plan_columns

REQUIRED = "programme,activity_code,start_date,end_date,nation,status"
VALUES = "training,N5-35,2024-03-04,2024-03-08,IRL,attended"


def plan(headers: list[str], columns: dict[str, str]):
    return plan_columns(check_headers(headers), parse_source_config("x", {"columns": columns}))


def test_the_empty_header_is_mapped_with_the_empty_key():
    result = plan(["", *REQUIRED.split(",")], {"": "source_record_id"})
    assert result.mapping["(column 1)"] == "source_record_id"
    assert result.warnings == {}


def test_a_header_of_spaces_is_the_empty_header():
    result = plan(["  ", *REQUIRED.split(",")], {"": "source_record_id"})
    assert result.mapping["(column 1)"] == "source_record_id"


def test_the_undocumented_column_n_key_no_longer_maps_an_empty_header():
    """``"(column 1)"`` is what a report calls an empty header, not a config key: it is an ordinary header
    name, so it matches no delivered header here (and is reported as such)."""
    with pytest.raises(UnreadableFile, match="missing required column"):
        plan(["", *REQUIRED.split(",")], {"(column 1)": "source_record_id"})


def test_two_empty_headers_make_the_empty_key_ambiguous():
    with pytest.raises(UnreadableFile) as caught:
        plan(["", *REQUIRED.split(","), ""], {"": "source_record_id"})
    assert "columns 1 and 8" in str(caught.value) and '""' in str(caught.value)


def test_two_empty_headers_are_fine_when_nothing_maps_the_empty_header():
    result = plan(["", "source_record_id", *REQUIRED.split(","), ""], {})
    assert result.ignored == ("(column 1)", "(column 9)")


def test_keys_that_match_no_delivered_header_are_counted():
    result = plan(["ID", *REQUIRED.split(",")], {"ID": "source_record_id", "Rank ": "rank", "Score": "score"})
    assert result.warnings == {"column_not_delivered": 2}


def test_a_missing_required_column_names_the_config_keys_not_delivered():
    with pytest.raises(UnreadableFile) as caught:
        plan(["Country", "source_record_id", "programme", "activity_code", "start_date", "end_date", "status"],
             {"Contry": "nation"})  # fmt: skip
    assert "missing required column(s) nation" in str(caught.value)
    assert "'contry'" in str(caught.value)


def test_only_an_empty_header_answers_to_the_empty_key():
    config = SourceConfig(name="x", columns={"": "source_record_id"})
    assert config.canonical_name("Nation") == "nation"
    assert config.canonical_name(BlankHeader("(column 1)")) == "source_record_id"
    assert config.canonical_name("(column 1)") is None  # a header delivered as written, not an empty one


# --- through the ingest -------------------------------------------------------------------------------


def test_an_empty_json_key_is_mapped_too(settings, landing, tmp_path, monkeypatch):
    record = {"": "J1", **{k: v for k, v in row().items() if k != "source_record_id"}}
    [ledger], stored, _ = ingest_with_config(
        landing, tmp_path, monkeypatch, '[columns]\n"" = "source_record_id"\n', {"a.jsonl": json.dumps(record) + "\n"}
    )
    assert ledger.status == "stored" and set(stored) == {"J1"}


def test_an_empty_xlsx_header_cell_is_mapped_too(settings, landing, tmp_path, monkeypatch):
    book = Workbook()
    sheet = book.active
    values = row()
    headers = [k for k in values if k != "source_record_id"]
    sheet.append(["", *headers])  # openpyxl leaves the first cell out: an empty header
    sheet.append(["X1", *(values[h] for h in headers)])
    path = tmp_path / "book.xlsx"
    book.save(path)
    [ledger], stored, _ = ingest_with_config(
        landing, tmp_path, monkeypatch, '[columns]\n"" = "source_record_id"\n', {"a.xlsx": path.read_bytes()}
    )
    assert ledger.status == "stored" and set(stored) == {"X1"}


def test_a_key_not_delivered_is_a_warning_of_the_delivery(settings, landing, tmp_path, monkeypatch):
    text = f"ID,{REQUIRED},headcount\nR1,{VALUES},4\n"
    config = '[columns]\n"ID" = "source_record_id"\n"Grade" = "rank"\n"Mark" = "score"\n'
    [ledger], stored, _ = ingest_with_config(landing, tmp_path, monkeypatch, config, {"a.csv": text})
    assert ledger.status == "stored" and set(stored) == {"R1"}
    assert ledger.warnings == {"column_not_delivered": 2}


# An export as R's write.csv writes it (row names in a column with an empty header, strings quoted,
# numbers bare, missing values as NA): UN peacekeeping contributions by year, nation and mission, a
# cross product in which most cells are zero. Written here, its figures invented: no copy of such a file
# under a licence that lets it ship was found; its shape is that of the public UN contributions exports.
R_EXPORT = """\
"","Year","Contributor","ISO3","Mission","Troops","Police","Experts","Total"
"1",2019,"Ireland","IRL","UNIFIL",459,NA,2,461
"2",2019,"Ireland","IRL","UNMISS",0,0,0,0
"3",2019,"Austria","AUT","UNIFIL",178,NA,NA,178
"4",2019,"Austria","AUT","UNMISS",0,NA,0,0
"5",2019,"Finland","FIN","UNIFIL",NA,NA,NA,NA
"6",2019,"Finland","FIN","MINUSCA",0,0,3,3
"7",2020,"Ireland","IRL","UNIFIL",337,0,3,340
"8",2020,"Ireland","IRL","UNMISS",0,0,0,0
"9",2020,"Armenia","ARM","UNIFIL",33,0,0,33
"10",2020,"Armenia","ARM","UNMISS",0,0,0,0
"11",2020,"Serbia","SRB","UNIFIL",177,NA,NA,177
"12",2020,"Serbia","SRB","UNMISS",0,0,0,0
"""

R_CONFIG = """\
description = "UN peacekeeping contributions by year, nation and mission (R write.csv)"

[columns]
"" = "source_record_id"
"ISO3" = "nation"
"Mission" = "activity_code"
"Total" = "headcount"

[dates]
period = "Year"

[defaults]
programme = "exercise"
status = "attended"
provider = "UN DPO"

[aliases.activity_code]
"UNIFIL" = "UN-UNIFIL"
"UNMISS" = "UN-UNMISS"
"""


def test_an_r_write_csv_export_of_contributions_by_year(settings, landing, tmp_path, monkeypatch):
    [ledger], stored, quarantined = ingest_with_config(
        landing, tmp_path, monkeypatch, R_CONFIG, {"contributions.csv": R_EXPORT}, source="un-pko"
    )
    assert ledger.status == "stored", ledger.reason
    assert (ledger.rows_read, ledger.rows_stored, ledger.rows_quarantined) == (12, 5, 7)
    assert sorted(ledger.ignored_columns) == ["Contributor", "Experts", "Police", "Troops"]
    assert set(stored) == {"1", "3", "7", "9", "11"}
    first = stored["1"]
    assert (first["activity_code"], first["nation"], first["headcount"]) == ("UN-UNIFIL", "IRL", 461)
    assert (first["start_date"].isoformat(), first["end_date"].isoformat()) == ("2019-01-01", "2019-12-31")
    reasons = {json.loads(q["record"])["source_record_id"]: q["reasons"] for q in quarantined}
    assert reasons["2"] == ["headcount_invalid"]  # a grid zero
    assert reasons["5"] == ["headcount_invalid"]  # NA
    assert reasons["6"] == ["activity_code_malformed"]  # MINUSCA has no alias: not a NATO-style code
