"""The synthetic delivery generator: deterministic, recorded, realistic shapes."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from txpipe.samples.rosters import MANIFEST, generate, load_manifest


def digests(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, reference):
    generate(tmp_path / "a", reference, rows=400, seed=5, defect_rate=0.1)
    generate(tmp_path / "b", reference, rows=400, seed=5, defect_rate=0.1)
    generate(tmp_path / "c", reference, rows=400, seed=6, defect_rate=0.1)
    a, b, c = (digests(tmp_path / x) for x in "abc")
    assert a == b and a != c
    assert {k.split("/")[0] for k in a} == {"nso", "jftc", "mtep", "jadl", MANIFEST}
    assert {k.rsplit(".", 1)[-1] for k in a if "/" in k} == {"xlsx", "csv", "json", "jsonl"}


def test_manifest_lists_every_file_and_defect(tmp_path, reference):
    manifest = generate(tmp_path, reference, rows=1000, seed=3, defect_rate=0.2)
    again = load_manifest(tmp_path)
    assert again.files == manifest.files and again.planted == manifest.planted
    assert all((tmp_path / name).is_file() for name in manifest.files)
    defects = {(p.file, p.source_row) for p in manifest.planted if p.severity == "critical"}
    assert 0.15 < len(defects) / sum(manifest.files.values()) < 0.3


def test_contingents_have_headcount_above_one(tmp_path, reference):
    generate(tmp_path, reference, rows=500, seed=1, sources=("mtep",), files_per_source=1)
    text = (tmp_path / "mtep" / "mtep_01.jsonl").read_text()
    assert '"persons": 1,' in text and any(f'"persons": {n},' in text for n in range(20, 161))


def test_cli_generate(tmp_path):
    out = tmp_path / "landing"
    run = subprocess.run(
        [sys.executable, "-m", "txpipe", "generate", str(out), "--rows", "50", "--source", "jadl", "--files", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (out / "jadl" / "jadl_01.csv").read_text().count("\n") == 51


def test_deliveries_look_like_the_world(tmp_path, reference):
    """About one activity in ten is outside the catalogue, iteration ids and nation spellings vary the way
    public lists and offices write them, and every file mixes critical defects and warnings."""
    import csv as csvlib

    manifest = generate(tmp_path, reference, rows=3000, seed=11, defect_rate=0.05, files_per_source=2)
    rows = sum(manifest.files.values())
    outside = sum(p.defect == "activity_not_in_catalogue" for p in manifest.planted) / rows
    assert 0.06 < outside < 0.14
    for name in manifest.files:
        severities = {p.severity for p in manifest.planted if f"{p.source}/{p.file}" == name}
        assert severities == {"critical", "warning"}, name
    with open(tmp_path / "jadl" / "jadl_01.csv", newline="", encoding="utf-8") as handle:
        nations = [r["nation"] for r in csvlib.DictReader(handle)]
    codes = set(reference.nation_codes)
    assert len(set(nations)) > 2 * len({reference.resolve_nation(n) for n in nations} & codes)
    assert any("," in n or "(the)" in n for n in nations) and any(n.isupper() and len(n) == 2 for n in nations)
    assert any(not n.isascii() for n in nations)  # French and other non-ASCII spellings
