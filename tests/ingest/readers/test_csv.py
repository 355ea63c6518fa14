"""The CSV reader on real files: encodings, delimiters, quoting, blank lines, bad rows."""

from __future__ import annotations

import pytest

from txpipe.ingest.readers import ReadOptions, UnreadableFile, read_delivery


def read_all(path, **options):
    delivered = read_delivery(path, ReadOptions(**options))
    batches = list(delivered.batches)
    frames = [b.frame for b in batches]
    rows = [(int(i), r) for f in frames for i, r in zip(f.index, f.to_dict("records"), strict=False)]
    issues = [i for b in batches for i in b.issues]
    return delivered.headers, rows, issues


def test_bom_semicolon_crlf(tmp_path):
    """It reads a UTF-8 BOM, ';' delimited, CRLF file, and the BOM is not part of the first header."""
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffid;nation;note\r\n1;Türkiye;a\r\n2;GEO;b\r\n".encode("utf-8"))
    headers, rows, issues = read_all(path)
    assert headers == ["id", "nation", "note"]
    assert rows == [(2, {"id": "1", "nation": "Türkiye", "note": "a"}), (3, {"id": "2", "nation": "GEO", "note": "b"})]
    assert issues == []


def test_quoted_delimiters_and_newlines_and_blank_lines(tmp_path):
    """Quoted fields keep delimiters and newlines; blank lines are skipped and not counted."""
    path = tmp_path / "r.csv"
    path.write_text('id,note,x\n1,"a, b",y\n\n2,"line1\nline2",z\n,,\n3, spaced ,w\n', encoding="utf-8")
    _headers, rows, _issues = read_all(path)
    assert [r for _, r in rows] == [
        {"id": "1", "note": "a, b", "x": "y"},
        {"id": "2", "note": "line1\nline2", "x": "z"},
        {"id": "3", "note": "spaced", "x": "w"},
    ]
    assert [i for i, _ in rows] == [2, 3, 5]  # record numbers, header = 1; ',,' is record 4 and blank


def test_tab_and_pipe_delimiters_are_sniffed(tmp_path):
    for delimiter in ("\t", "|"):
        path = tmp_path / "r.csv"
        path.write_text(f"a{delimiter}b{delimiter}c\n1{delimiter}2{delimiter}3\n", encoding="utf-8")
        headers, rows, _ = read_all(path)
        assert headers == ["a", "b", "c"] and rows[0][1] == {"a": "1", "b": "2", "c": "3"}


def test_latin1_is_rejected_with_line_number_unless_declared(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("id,nation\n1,GEO\n2,Türkiye\n".encode("latin-1"))
    with pytest.raises(UnreadableFile, match=r"not valid UTF-8 .*line 3"):
        read_all(path)
    _, rows, _ = read_all(path, encoding="latin-1")
    assert rows[1][1]["nation"] == "Türkiye"


def test_utf16_and_binary_are_rejected(tmp_path):
    utf16 = tmp_path / "u.csv"
    utf16.write_bytes("id,nation\n1,GEO\n".encode("utf-16"))
    with pytest.raises(UnreadableFile, match="UTF-16"):
        read_all(utf16)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UnreadableFile, match="not text"):
        read_all(binary)


def test_duplicated_header_is_rejected(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("id,nation,Nation\n1,GEO,ARM\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="duplicated column 'Nation'"):
        read_all(path)


def test_wrong_field_count_rows_become_issues_with_their_position(tmp_path):
    """A short or long record is reported at its record number; the others go on."""
    path = tmp_path / "r.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n", encoding="utf-8")
    _, rows, issues = read_all(path)
    assert [i for i, _ in rows] == [2, 4, 6]
    assert [(i.source_row, i.rule) for i in issues] == [(3, "csv_field_count"), (5, "csv_field_count")]
    assert "expected 3 fields, found 2" in issues[0].message


def test_wrong_field_count_after_many_blocks_keeps_exact_positions(tmp_path):
    """The exact fallback takes over mid-file without losing or repeating a record."""
    path = tmp_path / "big.csv"
    lines = ["id,value,x"] + [f"{n},{'v' * 50},{n}" for n in range(1, 300_001)]
    lines[250_000] = "250000,short"  # record 250000 is on file line 250001
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, rows, issues = read_all(path, chunk_rows=50_000)
    assert len(rows) == 299_999 and len(issues) == 1
    assert issues[0].source_row == 250_001
    ids = [int(r["id"]) for _, r in rows]
    assert ids == [n for n in range(1, 300_001) if n != 250_000]
    assert all(i == int(r["id"]) + 1 for i, r in rows)


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableFile, match="empty"):
        read_all(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("a,b\n", encoding="utf-8")
    headers, rows, issues = read_all(header_only)
    assert headers == ["a", "b"] and rows == [] and issues == []


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_chunks_hold_at_most_chunk_rows_and_keep_positions(tmp_path, chunk_rows):
    """A delivery streams in chunks of at most ``chunk_rows`` rows (TXPIPE_CHUNK_ROWS); positions run on."""
    path = tmp_path / "c.csv"
    path.write_text("id,x\n" + "".join(f"{n},v{n}\n" + ("\n" if n % 5 == 0 else "") for n in range(1, 31)))
    batches = list(read_delivery(path, ReadOptions(chunk_rows=chunk_rows)).batches)
    assert max(len(b.frame) for b in batches) == min(chunk_rows, 30)
    assert [int(i) for b in batches for i in b.frame.index] == list(range(2, 32))
    assert [r["id"] for b in batches for r in b.frame.to_dict("records")] == [str(n) for n in range(1, 31)]


def test_chunk_rows_setting(monkeypatch):
    from txpipe.settings import CHUNK_ROWS, Settings

    assert Settings.from_env({}).chunk_rows == CHUNK_ROWS
    assert Settings.from_env({"TXPIPE_CHUNK_ROWS": "7"}).chunk_rows == 7
    for bad in ("0", "seven"):
        with pytest.raises(ValueError, match="TXPIPE_CHUNK_ROWS"):
            Settings.from_env({"TXPIPE_CHUNK_ROWS": bad})


@pytest.mark.parametrize("quoted", [False, True])
def test_a_field_past_the_limit_rejects_the_file_on_either_path(tmp_path, quoted):
    """Arrow's fast path and the exact path (taken after a record with the wrong field count) alike."""
    from txpipe.settings import ReadLimits

    long = "y" * 300
    lines = ["source_record_id,activity_title", "1,short", "2,a,b" if quoted else "2,ok", f'3,"{long}"']
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    delivered = read_delivery(path, ReadOptions(limits=ReadLimits(field_chars=200)))
    with pytest.raises(UnreadableFile, match=r"longer than|field larger than field limit") as caught:
        list(delivered.batches)
    assert long not in str(caught.value)


def test_a_header_cell_past_the_csv_module_limit_is_a_rejection(tmp_path):
    path = tmp_path / "wide_header.csv"
    path.write_text('"' + "h" * 40_000 + '",b\n1,2\n', encoding="utf-8")
    with pytest.raises(UnreadableFile):
        read_delivery(path, ReadOptions())
