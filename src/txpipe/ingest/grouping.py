"""Planning a validation: the suite's rules in groups over shared columns, each judged on its distinct values.

Every rule judges a row by that row's values alone, so GX can be shown each distinct combination of
the values a group of rules reads once, not every row: a roster of 200,000 rows holds a few hundred
distinct programmes, dates and nations, and GX's verdict on a combination is mapped back to every
row holding it (:meth:`RuleGroup.rows_holding`). A group whose combinations are too many (it reads
near-unique columns: record ids, pseudonyms) is validated on the rows themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from txpipe.ingest.suite import Positions, Rule

_SAMPLE_ROWS = 20_000


@dataclass
class RuleGroup:
    """Rules that read overlapping columns, and the distinct value combinations of those columns."""

    rules: list[Rule]
    values: pd.DataFrame  # the columns the rules read, every row
    codes: npt.NDArray[np.int64] | None = None  # per row: which distinct combination it holds
    firsts: Positions | None = None  # per distinct combination: the first row holding it

    def combinations(self) -> tuple[npt.NDArray[np.int64], Positions]:
        """(codes, firsts) of a group validated on its distinct combinations."""
        if self.codes is None or self.firsts is None:
            raise ValueError("the group is validated on its rows: it has no distinct combinations")
        return self.codes, self.firsts

    def rows_holding(self, distinct_positions: Positions) -> Positions:
        """Rows holding any of the given distinct combinations (positions past the last are padding)."""
        codes, firsts = self.combinations()
        wanted = np.zeros(len(firsts), dtype=np.bool_)
        wanted[distinct_positions[distinct_positions < len(firsts)]] = True
        return np.flatnonzero(wanted[codes])


def rule_groups(rules: tuple[Rule, ...] | list[Rule], columns: list[str]) -> list[tuple[list[Rule], list[str]]]:
    """The rules in groups that share no column (rules reading a common column are in one group),
    each with the columns it reads, in the order of ``columns``."""
    groups: list[tuple[list[Rule], set[str]]] = []
    for rule in rules:
        reads = {c for c in rule.reads if c in columns} or set(columns)
        joined = [g for g in groups if g[1] & reads]
        merged = ([rule] + [r for g in joined for r in g[0]], reads.union(*(g[1] for g in joined)))
        groups = [g for g in groups if not any(g is j for j in joined)] + [merged]
    return [(members, [c for c in columns if c in read]) for members, read in groups]


def split_groups(data: pd.DataFrame, rules: tuple[Rule, ...], limit: int) -> tuple[list[RuleGroup], list[RuleGroup]]:
    """The rules in groups over shared columns: (validated on distinct values, on rows). A group goes
    to the rows when its distinct combinations outnumber ``limit``."""
    distinct, whole = [], []
    for members, ordered in rule_groups(rules, list(data.columns)):
        codes = _combination_codes(data, ordered, limit)
        if codes is None:
            whole.append(RuleGroup(rules=members, values=data[ordered]))
            continue
        firsts = np.full(int(codes.max()) + 1, len(data), dtype=np.int64)
        np.minimum.at(firsts, codes, np.arange(len(data), dtype=np.int64))
        distinct.append(RuleGroup(rules=members, values=data[ordered], codes=codes, firsts=firsts))
    return distinct, whole


def _combination_codes(data: pd.DataFrame, columns: list[str], limit: int) -> npt.NDArray[np.int64] | None:
    """One integer per row naming its combination of values in ``columns`` (0, 1, ... in order of
    first appearance; missing is a value too); None as soon as the combinations outnumber ``limit``."""
    combined = np.zeros(len(data), dtype=np.int64)
    for column in columns:
        if _looks_near_unique(data[column], limit):
            return None
        codes, uniques = pd.factorize(data[column], use_na_sentinel=False)
        if len(uniques) > limit:
            return None
        combined, distinct = pd.factorize(combined * (len(uniques) + 1) + codes)
        if len(distinct) > limit:
            return None
    return combined.astype(np.int64)


def _looks_near_unique(column: pd.Series, limit: int) -> bool:
    """A cheap look at the first rows of a long column: mostly distinct there means validate every row.
    (Only the faster path depends on it: both paths give the same verdict.)"""
    if len(column) < 4 * _SAMPLE_ROWS:
        return False
    distinct: int = column.iloc[:_SAMPLE_ROWS].nunique(dropna=False)
    return distinct > _SAMPLE_ROWS * limit / len(column)


def distinct_frame(groups: list[RuleGroup]) -> pd.DataFrame:
    """One frame holding every group's distinct combinations, row i of each group side by side.

    Groups share no column. A group with fewer combinations than the longest is padded by repeating
    its first combination: a repeat adds no verdict that the first did not already give.
    """
    length = max(len(g.combinations()[1]) for g in groups)
    parts = []
    for group in groups:
        firsts = group.combinations()[1]
        take = np.concatenate([firsts, np.full(length - len(firsts), firsts[0])])
        parts.append(group.values.iloc[take].reset_index(drop=True))
    return pd.concat(parts, axis=1)
