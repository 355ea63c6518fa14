"""Reference data: dated nations, the nation-name resolver, and the activity catalogue."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import pycountry

FRAMEWORKS = ("ALLY", "PFP", "MD", "ICI", "PAG", "IO")


def nation_key(value: str) -> str:
    """Fold a nation spelling to a lookup key: case, accents, punctuation and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", " ", ascii_only.casefold()).strip()


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
    def _nation_index(self) -> dict[str, str]:
        """Lookup key -> ISO alpha-3 / organisation code, from pycountry, nations.csv and aliases.

        Later sources win, so the project's own names and aliases override pycountry's.
        """
        index: dict[str, str] = {}
        for country in pycountry.countries:
            for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
                spelling = getattr(country, attr, None)
                if spelling:
                    index[nation_key(spelling)] = country.alpha_3
        for row in self.nations.itertuples():
            index[nation_key(row.code)] = row.code
            index[nation_key(row.name)] = row.code
        for alias, code in self.aliases.items():
            index[nation_key(alias)] = code
        return index

    def resolve_nation(self, value: str | None) -> str | None:
        """Resolve a delivered nation (alpha-3, alpha-2 or English name) to its code.

        Returns the code when the spelling is recognised (it may still be absent from
        nations.csv, e.g. a non-partner country), otherwise the trimmed value unchanged so
        that the validation rule can report it.
        """
        if value is None:
            return None
        stripped = value.strip()
        if not stripped:
            return None
        return self._nation_index.get(nation_key(stripped), stripped)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None})


def load_reference(reference_dir: Path) -> Reference:
    nations = _read_csv(reference_dir / "nations.csv")
    unknown = set(nations["framework"]) - set(FRAMEWORKS)
    if unknown:
        raise ValueError(f"{reference_dir / 'nations.csv'}: unknown framework(s) {sorted(unknown)}")
    with open(reference_dir / "nation_aliases.csv", newline="", encoding="utf-8") as handle:
        aliases = {row["alias"]: row["code"] for row in csv.DictReader(handle)}
    return Reference(
        nations=nations,
        activities=_read_csv(reference_dir / "activities.csv"),
        iterations=_read_csv(reference_dir / "iterations.csv"),
        aliases=aliases,
    )
