"""Reference data: dated nations (and their names, see txpipe.nation_names), the activity catalogue."""

from __future__ import annotations

import csv
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
    nations = _read_csv(reference_dir / "nations.csv")
    unknown = set(nations["framework"]) - set(FRAMEWORKS)
    if unknown:
        raise ValueError(f"{reference_dir / 'nations.csv'}: unknown framework(s) {sorted(unknown)}")
    aliases = _read_aliases(reference_dir / "nation_aliases.csv")
    return Reference(
        nations=nations,
        activities=_read_csv(reference_dir / "activities.csv"),
        iterations=_read_csv(reference_dir / "iterations.csv"),
        aliases=aliases,
    )


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
