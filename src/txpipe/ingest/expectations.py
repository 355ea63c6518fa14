"""Row validation with the Great Expectations suite stored in ``expectations/``.

The suite is JSON, named for the dataset it guards (``participation.json``), and loaded at run
time. Each expectation carries ``meta.rule`` (the name reported in quarantine reasons),
``severity`` (critical: quarantine the row; warning: keep it, count it) and optionally
``meta.depends_on`` (rules whose failure on the same row makes this one moot, e.g. date order
is not judged on a date that is not a date).

Every expectation in the suite judges a row by that row's values alone (GX's map expectations;
the loader refuses any other kind). So GX is shown each distinct combination of the values a
group of rules reads once, not every row: a roster of 200,000 rows holds a few hundred distinct
programmes, dates and nations, and GX's verdict on a value is mapped back to every row holding it.
Rules that read near-unique columns (record ids, pseudonyms) are validated on the rows themselves.

This module judges frames (:func:`validate`, :func:`validate_many`) and gives the :class:`Verdict`.
The rest lives beside it and is re-exported here: loading and describing the suite in
:mod:`txpipe.ingest.suite`, running GX (and its process-wide set-up, :func:`prepare_validation`) in
:mod:`txpipe.ingest.gx_runner`, planning the rule groups in :mod:`txpipe.ingest.grouping`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest.grouping import _SAMPLE_ROWS as _SAMPLE_ROWS  # read by tests/ingest/test_expectations.py
from txpipe.ingest.grouping import RuleGroup, distinct_frame, rule_groups, split_groups
from txpipe.ingest.gx_runner import prepare_validation, run_gx
from txpipe.ingest.suite import SUITE_FILE, Parameters, Positions, RowSuite, Rule, SuiteError, load_suite

__all__ = [
    "DISTINCT_SHARE",
    "SUITE_FILE",
    "RowSuite",
    "Rule",
    "RuleGroup",
    "SuiteError",
    "Verdict",
    "distinct_frame",
    "load_suite",
    "plan_groups",
    "prepare_validation",
    "rule_groups",
    "run_gx",
    "validate",
    "validate_many",
]

# A group of rules is validated on its distinct values when they number at most this share of the rows.
DISTINCT_SHARE = 0.25


@dataclass
class Verdict:
    """Which rules each row of the validated frame broke.

    Rows are addressed in one index space only: their position in the frame given to
    :func:`validate` (0 .. rows-1). Every answer comes back aligned to that frame, one entry per row,
    so a caller splits the frame and its verdicts with the same mask and never translates positions.
    """

    rows: int
    failures: dict[str, Positions]  # rule -> failed positions
    rules: tuple[Rule, ...]

    def quarantined(self) -> npt.NDArray[np.bool_]:
        """Per row: whether it broke a critical rule."""
        mask = np.zeros(self.rows, dtype=np.bool_)
        for rule in self.rules:
            if rule.severity == "critical":
                mask[self.failures.get(rule.name, _NONE)] = True
        return mask

    def names(self, severity: str) -> pa.ListArray:
        """Per row: the rules of this severity it broke, in suite order; null where it broke none."""
        ordered = [r.name for r in self.rules if r.severity == severity]
        failed = [np.unique(self.failures.get(name, _NONE)) for name in ordered]
        positions = np.concatenate([_NONE, *failed])
        rule_numbers = np.concatenate([_NONE, *(np.full(len(f), i, np.int64) for i, f in enumerate(failed))])
        order = np.lexsort((rule_numbers, positions))  # by row, then by rule in suite order
        counts = np.bincount(positions, minlength=self.rows)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        values = pc.take(pa.array(ordered, pa.string()), pa.array(rule_numbers[order]))
        return pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(counts == 0))

    def split(self, lengths: list[int]) -> list[Verdict]:
        """The verdicts of consecutive frames that were validated as one (``lengths`` rows each)."""
        parts, start = [], 0
        for length in lengths:
            stop = start + length
            parts.append(
                Verdict(
                    rows=length,
                    rules=self.rules,
                    failures={
                        name: positions[(positions >= start) & (positions < stop)] - start
                        for name, positions in self.failures.items()
                    },
                )
            )
            start = stop
        return parts


_NONE: Positions = np.empty(0, np.int64)


def validate_many(frames: list[pd.DataFrame], suite: RowSuite, parameters: list[Parameters]) -> list[Verdict]:
    """One verdict per canonical frame (``parameters[i]`` are frame i's), the frames judged together.

    GX costs about the same for 20 rows as for 20,000, so many small deliveries are cheap only if
    judged at once. Rules whose parameters are the same for every frame (in practice all but
    conflicting_duplicate) run once on all the rows; the others once per distinct parameter set, on
    the rows of the frames that have it. Valid because every rule judges a row by its own values.
    """
    if not frames:
        return []
    varying = {key for key, value in parameters[0].items() if any(p[key] != value for p in parameters[1:])}
    shared = frozenset(r.name for r in suite.rules if not set(r.parameters) & varying)
    parts = validate(pd.concat(frames, ignore_index=True), suite.restricted(shared), parameters[0]).split(
        [len(frame) for frame in frames]
    )
    failures = [dict(part.failures) for part in parts]
    rest = suite.restricted(frozenset(suite.rule_names) - shared)
    if rest.rules:
        by_parameters: dict[str, list[int]] = {}
        for number, given in enumerate(parameters):
            by_parameters.setdefault(json.dumps(given, sort_keys=True, default=str), []).append(number)
        for numbers in by_parameters.values():
            judged = validate(pd.concat([frames[n] for n in numbers], ignore_index=True), rest, parameters[numbers[0]])
            for number, part in zip(numbers, judged.split([len(frames[n]) for n in numbers]), strict=True):
                failures[number].update(part.failures)
    return [
        Verdict(rows=len(frame), failures=_without_moot(found, suite.rules), rules=suite.rules)
        for frame, found in zip(frames, failures, strict=True)
    ]


def validate(frame: pd.DataFrame, suite: RowSuite, parameters: Parameters) -> Verdict:
    """Run the suite on a canonical frame; return which rows broke which rules."""
    data = frame.reset_index(drop=True)
    failures: dict[str, Positions] = {}
    if len(data):
        distinct, whole = plan_groups(data, suite)
        if whole:
            names = frozenset(r.name for group in whole for r in group.rules)
            failures.update(run_gx(pd.concat([g.values for g in whole], axis=1), suite, names, parameters))
        if distinct:
            names = frozenset(r.name for group in distinct for r in group.rules)
            found = run_gx(distinct_frame(distinct), suite, names, parameters)
            for group in distinct:
                for rule in group.rules:
                    failures[rule.name] = group.rows_holding(found[rule.name])
    else:
        failures = {name: np.empty(0, np.int64) for name in suite.rule_names}
    if set(failures) != set(suite.rule_names):
        raise SuiteError(f"GX returned results for {sorted(failures)}, expected {sorted(suite.rule_names)}")
    return Verdict(rows=len(data), failures=_without_moot(failures, suite.rules), rules=suite.rules)


def _without_moot(failures: dict[str, Positions], rules: tuple[Rule, ...]) -> dict[str, Positions]:
    """A rule is moot on rows where a rule it depends on failed."""
    for rule in rules:
        for dependency in rule.depends_on:
            if len(failures.get(rule.name, ())) and len(failures.get(dependency, ())):
                failures[rule.name] = np.setdiff1d(failures[rule.name], failures[dependency])
    return failures


def plan_groups(data: pd.DataFrame, suite: RowSuite) -> tuple[list[RuleGroup], list[RuleGroup]]:
    """Split the rules into groups over shared columns; return (validated on distinct values, on rows).

    A group is validated on its distinct values when they number at most ``DISTINCT_SHARE`` of the
    rows (read here at each call, so that changing it here takes effect)."""
    return split_groups(data, suite.rules, int(DISTINCT_SHARE * len(data)))
