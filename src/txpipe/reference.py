"""Reference data: dated nations (and their names, see txpipe.nation_names), the activity catalogue."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import pandas as pd

from txpipe.nation_names import NationNames

FRAMEWORKS = ("ALLY", "PFP", "MD", "ICI", "PAG", "IO")


@dataclass(frozen=True)
class Reference:
    """Everything read from ``data/reference/``; load once per run with :func:`load_reference`."""

    nations: pd.DataFrame
    activities: pd.DataFrame
    iterations: pd.DataFrame
    aliases: dict[str, str]

    @cached_property
    def nation_codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.nations["code"].unique()))

    @cached_property
    def activity_codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.activities["activity_code"].unique()))

    @cached_property
    def nation_names(self) -> NationNames:
        return _nation_names(
            tuple(zip(self.nations["name"], self.nations["code"], strict=True)), tuple(self.aliases.items())
        )

    def resolve_nation(self, value: str | None) -> str | None:
        """Resolve a delivered nation (code or name, as the world writes it; see txpipe.nation_names).

        Returns the code when the spelling is recognised (it may still be absent from nations.csv,
        e.g. a non-partner country), otherwise the trimmed value unchanged so that the validation
        rule can report it; None when blank.
        """
        if value is None or not value.strip():
            return None
        return self.nation_names.resolve(value) or value.strip()


@lru_cache(maxsize=8)
def _nation_names(names: tuple[tuple[str, str], ...], aliases: tuple[tuple[str, str], ...]) -> NationNames:
    """Built once per process for the same reference (about 0.5 s: every library spelling is folded)."""
    return NationNames(names, aliases)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None})


def load_reference(reference_dir: Path) -> Reference:
    check_nations(reference_dir / "nations.csv")
    nations = _read_csv(reference_dir / "nations.csv")
    aliases = _read_aliases(reference_dir / "nation_aliases.csv")
    return Reference(
        nations=nations,
        activities=_read_csv(reference_dir / "activities.csv"),
        iterations=_read_csv(reference_dir / "iterations.csv"),
        aliases=aliases,
    )


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_nations(path: Path) -> None:
    """Refuse (ValueError, one line naming the code and rows) a nations.csv that the dated joins
    cannot use: an unknown framework, a date that is not ISO, a period ending before it starts, or
    two periods of one code that share a day (a row would then hold two frameworks at once).

    Columns beyond the contract's (``note``, ``source``: the public page a row's dates come from)
    are free text. Rows are numbered as lines of the file, the header being row 1.
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    unknown = {row.get("framework") for row in rows} - set(FRAMEWORKS)
    if unknown:
        raise ValueError(f"{path}: unknown framework(s) {sorted(unknown, key=str)}")
    periods: dict[str, list[tuple[dt.date, dt.date, int]]] = {}
    for number, row in enumerate(rows, start=2):
        dates = {column: _date(path, number, column, row.get(column)) for column in ("valid_from", "valid_to")}
        _date(path, number, "status_from", row.get("status_from"))
        start, end = dates["valid_from"] or dt.date.min, dates["valid_to"] or dt.date.max
        if start > end:
            raise ValueError(f"{path}: row {number} ({row.get('code')}) has valid_to before valid_from")
        periods.setdefault(row.get("code") or "", []).append((start, end, number))
    for code, spans in periods.items():
        spans.sort()
        for earlier, later in itertools.pairwise(spans):
            if later[0] <= earlier[1]:
                raise ValueError(
                    f"{path}: periods of {code} overlap: row {earlier[2]} ({_span(earlier)}) and row {later[2]} "
                    f"({_span(later)}); a nation holds one framework on any day"
                )


def _date(path: Path, number: int, column: str, value: str | None) -> dt.date | None:
    """A date column of nations.csv: blank, or an ISO date (YYYY-MM-DD)."""
    if value is None or not value.strip():
        return None
    try:
        if not _ISO_DATE.fullmatch(value.strip()):
            raise ValueError(value)
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{path}: row {number} {column} {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _span(period: tuple[dt.date, dt.date, int]) -> str:
    start, end, _ = period
    return f"{'open' if start == dt.date.min else start} to {'open' if end == dt.date.max else end}"


def _read_aliases(path: Path) -> dict[str, str]:
    """alias -> code; every alias names the public source that writes it so."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for number, row in enumerate(rows, start=2):
        if not (row.get("alias") or "").strip() or not (row.get("code") or "").strip():
            raise ValueError(f"{path}: row {number} needs an alias and a code")
        if not (row.get("source") or "").strip():
            raise ValueError(f"{path}: row {number} names no source for its alias")
    return {row["alias"]: row["code"] for row in rows}
