"""The suite's rules in groups over shared columns, which the validate stage judges together.

Every rule judges a row by that row's values alone, so GX can be shown each distinct combination of
the values a group of rules reads once, not every row (:mod:`txpipe.ingest.validate`). Rules that read
a common column must be judged on the same combinations, so they form one group.
"""

from __future__ import annotations

from txpipe.ingest.suite import Rule


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
