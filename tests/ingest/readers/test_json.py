"""The JSON reader: arrays of objects and JSON Lines, with broken lines quarantined."""

from __future__ import annotations

import json

import pytest

from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery


def read_all(path):
    delivered = read_delivery(path, ReadOptions())
    batches = list(delivered.batches)
    rows = [(int(i), r) for b in batches for i, r in zip(b.frame.index, b.frame.to_dict("records"), strict=False)]
    return delivered.headers, rows, [i for b in batches for i in b.issues]


def test_array_of_objects_with_mixed_keys_and_types(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            [
                {"Source_Record_Id": "1", "headcount": 12, "score": 88.0, "nation": "GEO"},
                {"source_record_id": 2, "extra": {"nested": [1, 2]}, "nation": None},
            ]
        ),
        encoding="utf-8",
    )
    headers, rows, issues = read_all(path)
    assert headers == ["Source_Record_Id", "headcount", "score", "nation", "extra"]
    assert rows[0] == (1, {"Source_Record_Id": "1", "headcount": "12", "score": "88", "nation": "GEO", "extra": None})
    assert rows[1][0] == 2 and rows[1][1]["Source_Record_Id"] == "2" and rows[1][1]["nation"] is None
    assert rows[1][1]["extra"] == '{"nested": [1, 2]}'
    assert issues == []


def test_json_lines_with_a_broken_line(tmp_path):
    """A malformed line is reported with its line number and the rest of the file goes on."""
    path = tmp_path / "l.jsonl"
    path.write_text(
        '{"source_record_id": "1"}\n\n{"source_record_id": "2", "nat\n{"source_record_id": "3"}\n[1]\n',
        encoding="utf-8",
    )
    _, rows, issues = read_all(path)
    assert [(i, r["source_record_id"]) for i, r in rows] == [(1, "1"), (4, "3")]
    assert [(i.source_row, i.rule) for i in issues] == [(3, "json_line_malformed"), (5, "json_record_not_object")]


def test_broken_array_and_non_array_documents_are_rejected(tmp_path):
    broken = tmp_path / "b.json"
    broken.write_text('[{"source_record_id": "1"},\n{"source_record_id": ', encoding="utf-8")
    with pytest.raises(UnreadableFile, match=r"broken JSON: .* line 2"):
        read_all(broken)
    single = tmp_path / "o.json"
    single.write_text('{\n "records": [{"source_record_id": "1"}]\n}\n', encoding="utf-8")
    with pytest.raises(UnreadableFile, match="single dict"):
        read_all(single)


HUGE = "7" * 5000  # past Python's 4,300-digit limit for int()


@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_a_number_of_any_length_is_read_as_its_digits(tmp_path, layout):
    records = [
        {"source_record_id": "A", "headcount": "HUGE"},
        {"source_record_id": "B", "score": "-HUGE"},
        {"source_record_id": "C", "score": "1e400", "headcount": "4"},
    ]
    lines = [
        json.dumps(r).replace('"HUGE"', HUGE).replace('"-HUGE"', "-" + HUGE).replace('"1e400"', "1e400")
        for r in records
    ]
    path = tmp_path / f"n.{'jsonl' if layout == 'jsonl' else 'json'}"
    path.write_text("\n".join(lines) if layout == "jsonl" else "[" + ",".join(lines) + "]", encoding="utf-8")
    _, rows, issues = read_all(path)
    assert issues == []
    values = {r["source_record_id"]: r for _, r in rows}
    assert values["A"]["headcount"] == HUGE and values["B"]["score"] == "-" + HUGE
    assert values["C"]["headcount"] == "4"


def test_a_field_past_the_limit_rejects_the_file(tmp_path):
    from txpipe.settings import ReadLimits

    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"source_record_id": "A", "activity_title": "x" * 101}) + "\n", encoding="utf-8")
    delivered = read_delivery(path, ReadOptions(limits=ReadLimits(field_chars=100)))
    with pytest.raises(UnreadableFile, match="a field in column 2 is longer than 100 characters") as caught:
        list(delivered.batches)
    assert "xxx" not in str(caught.value)


def test_json_lines_with_a_garbled_first_line_is_not_loaded_whole(tmp_path, monkeypatch):
    """Only a first line that stops before its value ends is taken for a document over several lines."""
    import txpipe.ingest.readers.json as reader
    from txpipe.ingest.readers import ReadOptions, read_delivery

    loaded = []
    monkeypatch.setattr(reader, "_whole_document", lambda *a: loaded.append(a))
    path = tmp_path / "export.jsonl"
    path.write_text('{"a": x}\n{"source_record_id": "R1"}\n', encoding="utf-8")
    delivered = read_delivery(path, ReadOptions())
    batches = list(delivered.batches)
    assert loaded == [] and [i.rule for b in batches for i in b.issues] == ["json_line_malformed"]
    path.write_text('{\n"a": 1}\n', encoding="utf-8")  # one object over two lines: judged whole
    monkeypatch.undo()
    with pytest.raises(reader.UnreadableFile, match="single dict"):
        read_delivery(path, ReadOptions())
