"""Real public spellings of country names against the nation-name resolver.

The spellings in tests/data/nation_spellings/ were copied from public lists (World
Bank WDI, UN M49 / UNTERM, ISO 3166 "(the)" forms, OCHA/ReliefWeb, CLDR English and
French); each row keeps the code the list itself gives.  SOURCES.md there names each
list, its version and its licence.  The expectations are independent of how the
resolver is built:

* ``country`` row whose code is a reference nation: it must resolve to that code;
* ``country`` row for any other code: it resolves to that code or comes back unchanged,
  never to a different code (a wrong code is the worst outcome);
* ``aggregate`` / ``subnational`` / ``ambiguous`` row: never resolved to a reference
  nation;
* ``organisation`` row (the EU, the UN as a list names them): never resolved to a
  reference *country*; the reference's own international-organisation codes are
  allowed, since the reference lists the EU and the UN as IO partners.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import pytest

from txpipe.reference import load_reference
from txpipe.settings import REPO_ROOT

DATA = Path(__file__).resolve().parents[1] / "data" / "nation_spellings"
LISTS = sorted(p.name for p in DATA.glob("*.csv"))
KINDS = {"country", "aggregate", "subnational", "ambiguous", "organisation"}
MIN_SHARE = 0.99
# Spellings a list gives one code for but txpipe refuses on purpose (never a guess; a source config may
# alias them). They must stay unresolved, and they count as misses in the share below.
REFUSED = {"Korea": "ambiguous: Republic of Korea or DPRK (the World Bank's short name for KOR)"}


@lru_cache(maxsize=1)
def _ref():
    return load_reference(REPO_ROOT / "data" / "reference")


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    return frozenset(_ref().nation_codes)


@lru_cache(maxsize=1)
def _io_codes() -> frozenset[str]:
    """Reference codes of international organisations (framework IO in nations.csv)."""
    with open(REPO_ROOT / "data" / "reference" / "nations.csv", newline="", encoding="utf-8") as f:
        return frozenset(r["code"] for r in csv.DictReader(f) if r.get("framework") == "IO")


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _cases():
    for name in LISTS:
        for i, row in enumerate(_rows(name), start=2):
            yield pytest.param(
                name,
                row["spelling"],
                row["code"],
                row["kind"],
                id=f"{name.removesuffix('.csv')}:{i}:{row['kind']}:{row['code']}:{row['spelling']}",
            )


def test_lists_are_well_formed():
    assert len(LISTS) >= 4, LISTS
    total = 0
    for name in LISTS:
        rows = _rows(name)
        assert rows, name
        assert list(rows[0]) == ["spelling", "code", "kind"], name
        seen = set()
        for row in rows:
            assert row["spelling"] == row["spelling"].strip() and row["spelling"], (name, row)
            assert row["code"], (name, row)
            assert row["kind"] in KINDS, (name, row)
            assert (row["spelling"], row["code"]) not in seen, (name, row)
            seen.add((row["spelling"], row["code"]))
        total += len(rows)
    assert total >= 300
    assert (DATA / "SOURCES.md").is_file()
    sources = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    for name in LISTS:
        assert name in sources, f"{name} is not described in SOURCES.md"


@pytest.mark.parametrize(("list_name", "spelling", "code", "kind"), list(_cases()))
def test_spelling(list_name, spelling, code, kind):
    codes = _codes()
    got = _ref().resolve_nation(spelling)
    if spelling in REFUSED:
        assert got not in codes, f"{list_name}: {spelling!r} is refused ({REFUSED[spelling]}), got {got!r}"
    elif kind == "country" and code in codes:
        assert got == code, f"{list_name}: {spelling!r} should resolve to {code}, got {got!r}"
    elif kind == "country":
        assert got in (code, spelling.strip()), (
            f"{list_name}: {spelling!r} ({code}, not a reference nation) resolved to a different code {got!r}"
        )
    elif kind == "organisation":
        assert got not in codes - _io_codes(), (
            f"{list_name}: organisation {spelling!r} resolved to reference country {got!r}"
        )
    else:
        assert got not in codes, f"{list_name}: {kind} {spelling!r} ({code}) guessed as reference nation {got!r}"


def test_reference_nation_share(capsys):
    """Per-list summary; overall at least 99% of reference-nation spellings resolve right."""
    codes = _codes()
    ref = _ref()
    ok_all = n_all = 0
    lines = []
    for name in LISTS:
        ok = n = 0
        wrong = []
        for row in _rows(name):
            spelling, code, kind = row["spelling"], row["code"], row["kind"]
            if kind != "country":
                continue
            got = ref.resolve_nation(spelling)
            if code in codes:
                n += 1
                ok += got == code
                if got != code and got != spelling.strip():
                    wrong.append(f"{spelling!r}->{got}")
            elif got not in (code, spelling.strip()):
                wrong.append(f"{spelling!r}->{got}")
        lines.append(
            f"{name}: {ok}/{n} reference-nation spellings resolved"
            + (f"; WRONG CODE: {', '.join(wrong)}" if wrong else "")
        )
        ok_all += ok
        n_all += n
    share = ok_all / n_all if n_all else 0.0
    with capsys.disabled():
        print("\nnation spellings, per list:")
        for line in lines:
            print("  " + line)
        print(f"  overall: {ok_all}/{n_all} = {share:.3f}")
    assert n_all > 0
    assert share >= MIN_SHARE, "\n".join(lines)
