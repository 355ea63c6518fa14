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
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SUITE_FILE = "participation.json"

_gx_lock = threading.Lock()
_gx_batch_definition = None


class SuiteError(RuntimeError):
    """The suite on disk cannot be trusted (GX dropped or failed an expectation)."""


# A group of rules is validated on its distinct values when they number at most this share of the rows.
DISTINCT_SHARE = 0.25


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    columns: tuple[str, ...]  # the delivered columns a quarantine report shows for this rule
    depends_on: tuple[str, ...]
    reads: tuple[str, ...] = ()  # every canonical column the expectation reads (row condition included)
    parameters: tuple[str, ...] = ()  # the suite parameters ({"$PARAMETER": name}) the expectation takes


@dataclass(frozen=True)
class RowSuite:
    path: Path
    rules: tuple[Rule, ...]
    document: dict  # the suite file as loaded, to make GX sub-suites from

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)

    def restricted(self, names: frozenset[str]) -> RowSuite:
        """The same suite judging only the named rules."""
        return RowSuite(self.path, tuple(r for r in self.rules if r.name in names), self.document)

    def subset(self, names: frozenset[str]):
        """A GX suite of only the named rules (cached: the same groups recur chunk after chunk)."""
        return _sub_suite(self, names)


def _named_columns(kwargs: dict) -> list[str]:
    return [n for n in (kwargs.get(k) for k in ("column", "column_A", "column_B")) if n]


def _columns(kwargs: dict) -> tuple[str, ...]:
    return tuple("participant_ref" if n == "participant_pid" else n for n in _named_columns(kwargs))


def _parameters(value) -> tuple[str, ...]:
    """Names of the suite parameters a kwargs value refers to, however deep."""
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return (str(value["$PARAMETER"]),)
        return tuple(dict.fromkeys(n for v in value.values() for n in _parameters(v)))
    if isinstance(value, (list, tuple)):
        return tuple(dict.fromkeys(n for v in value for n in _parameters(v)))
    return ()


def _reads(kwargs: dict) -> tuple[str, ...]:
    names = _named_columns(kwargs) + list(kwargs.get("column_list") or ())
    condition = kwargs.get("row_condition")
    if isinstance(condition, dict):  # GX keeps a pandas condition as {"pass_through_filter": ...}
        condition = condition.get("pass_through_filter")
    if condition:
        names += re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(condition))
    return tuple(dict.fromkeys(n for n in names if n))


# Map expectations whose verdict on a row depends on the other rows (uniqueness across the batch).
_ACROSS_ROWS = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})


def _row_wise(expectation) -> bool:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    return (
        isinstance(expectation, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation))
        and expectation.expectation_type not in _ACROSS_ROWS
    )


def load_suite(expectations_dir: Path) -> RowSuite:
    """Load the suite and fail loudly if GX dropped any expectation it did not recognise."""
    import great_expectations as gx

    path = expectations_dir / SUITE_FILE
    document = json.loads(path.read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**document)
    if len(suite.expectations) != len(document["expectations"]):
        raise SuiteError(
            f"{path}: {len(document['expectations'])} expectations in the file but GX loaded "
            f"{len(suite.expectations)}; an expectation type is misspelt or unknown"
        )
    rules = []
    for expectation in suite.expectations:
        meta = expectation.meta or {}
        if "rule" not in meta:
            raise SuiteError(f"{path}: an expectation of type {expectation.expectation_type} has no meta.rule")
        if not _row_wise(expectation):
            raise SuiteError(
                f"{path}: rule {meta['rule']} ({expectation.expectation_type}) does not judge rows one by one; "
                "txpipe quarantines rows, so the suite takes column-map, column-pair-map and multicolumn-map "
                "expectations only"
            )
        kwargs = expectation.configuration.kwargs
        rules.append(
            Rule(
                name=meta["rule"],
                severity=str(getattr(expectation.severity, "value", expectation.severity)),
                columns=_columns(kwargs),
                depends_on=tuple(meta.get("depends_on", ())),
                reads=_reads(kwargs),
                parameters=_parameters(dict(kwargs)),
            )
        )
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise SuiteError(f"{path}: rule names must be unique")
    return RowSuite(path=path, rules=tuple(rules), document=document)


_sub_suites: dict[tuple[Path, frozenset[str]], object] = {}


def _sub_suite(suite: RowSuite, names: frozenset[str]):
    import great_expectations as gx

    key = (suite.path, names)
    if key not in _sub_suites:
        document = dict(suite.document)
        document["expectations"] = [e for e in document["expectations"] if e["meta"]["rule"] in names]
        document["name"] = f"{document.get('name', 'suite')}:{len(_sub_suites)}"
        _sub_suites[key] = gx.ExpectationSuite(**document)
    return _sub_suites[key]


def _cheap_batch_fingerprints() -> None:
    """GX fingerprints every in-memory batch by hashing all its values, twice per validation (once to
    build the batch, once to build the validator), which costs more than the validation itself. Our
    batches are chunks validated once and never looked up again, so shape and identity serve."""
    from great_expectations.execution_engine import pandas_execution_engine

    def fingerprint(frame: pd.DataFrame) -> str:
        return f"txpipe-chunk-{id(frame):x}-{frame.shape[0]}x{frame.shape[1]}"

    if hasattr(pandas_execution_engine, "hash_pandas_dataframe"):  # GX 1.x; elsewhere only slower
        pandas_execution_engine.hash_pandas_dataframe = fingerprint
    else:
        logging.getLogger(__name__).warning("GX no longer has hash_pandas_dataframe: batches are hashed in full")


def prepare_validation() -> None:
    """Set up GX's in-memory data source now rather than at the first chunk."""
    _batch_definition()


def _batch_definition():
    global _gx_batch_definition
    if _gx_batch_definition is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _cheap_batch_fingerprints()
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("txpipe").add_dataframe_asset("deliveries")
        _gx_batch_definition = asset.add_batch_definition_whole_dataframe("delivery")
    return _gx_batch_definition


@dataclass
class Verdict:
    """Which rules each row of the validated frame broke.

    Rows are addressed in one index space only: their position in the frame given to
    :func:`validate` (0 .. rows-1). Every answer comes back aligned to that frame, one entry per row,
    so a caller splits the frame and its verdicts with the same mask and never translates positions.
    """

    rows: int
    failures: dict[str, np.ndarray]  # rule -> failed positions
    rules: tuple[Rule, ...]

    def quarantined(self) -> np.ndarray:
        """Per row: whether it broke a critical rule."""
        mask = np.zeros(self.rows, dtype=bool)
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


_NONE = np.empty(0, np.int64)


def validate_many(frames: list[pd.DataFrame], suite: RowSuite, parameters: list[dict[str, list]]) -> list[Verdict]:
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
            for number, part in zip(numbers, judged.split([len(frames[n]) for n in numbers])):
                failures[number].update(part.failures)
    return [
        Verdict(rows=len(frame), failures=_without_moot(found, suite.rules), rules=suite.rules)
        for frame, found in zip(frames, failures)
    ]


def validate(frame: pd.DataFrame, suite: RowSuite, parameters: dict[str, list]) -> Verdict:
    """Run the suite on a canonical frame; return which rows broke which rules."""
    data = frame.reset_index(drop=True)
    failures: dict[str, np.ndarray] = {}
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


def _without_moot(failures: dict[str, np.ndarray], rules: tuple[Rule, ...]) -> dict[str, np.ndarray]:
    """A rule is moot on rows where a rule it depends on failed."""
    for rule in rules:
        for dependency in rule.depends_on:
            if len(failures.get(rule.name, ())) and len(failures.get(dependency, ())):
                failures[rule.name] = np.setdiff1d(failures[rule.name], failures[dependency])
    return failures


def run_gx(data: pd.DataFrame, suite: RowSuite, names: frozenset[str], parameters: dict) -> dict[str, np.ndarray]:
    """GX's verdict on every row of ``data`` for the named rules: failed positions per rule."""
    with _gx_lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": data.reset_index(drop=True)})
        result = batch.validate(
            suite.subset(names),
            result_format={"result_format": "COMPLETE"},
            expectation_parameters=parameters,
        )
    failures: dict[str, np.ndarray] = {}
    for outcome in result.results:
        name = outcome.expectation_config.meta["rule"]
        info = outcome.exception_info or {}
        if info.get("raised_exception"):
            raise SuiteError(f"rule {name} could not be evaluated: {info.get('exception_message')}")
        index = outcome.result.get("unexpected_index_list") or []
        failures[name] = np.asarray(index, dtype=np.int64)
    if set(failures) != set(names):
        raise SuiteError(f"GX returned results for {sorted(failures)}, expected {sorted(names)}")
    return failures


@dataclass
class RuleGroup:
    """Rules that read overlapping columns, and the distinct value combinations of those columns."""

    rules: list[Rule]
    values: pd.DataFrame  # the columns the rules read, every row
    codes: np.ndarray | None = None  # per row: which distinct combination it holds
    firsts: np.ndarray | None = None  # per distinct combination: the first row holding it

    def rows_holding(self, distinct_positions: np.ndarray) -> np.ndarray:
        """Rows holding any of the given distinct combinations (positions past the last are padding)."""
        wanted = np.zeros(len(self.firsts), dtype=bool)
        wanted[distinct_positions[distinct_positions < len(self.firsts)]] = True
        return np.flatnonzero(wanted[self.codes])


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


def plan_groups(data: pd.DataFrame, suite: RowSuite) -> tuple[list[RuleGroup], list[RuleGroup]]:
    """Split the rules into groups over shared columns; return (validated on distinct values, on rows)."""
    distinct, whole = [], []
    limit = int(DISTINCT_SHARE * len(data))
    for rules, ordered in rule_groups(suite.rules, list(data.columns)):
        codes = _combination_codes(data, ordered, limit)
        if codes is None:
            whole.append(RuleGroup(rules=rules, values=data[ordered]))
            continue
        firsts = np.full(int(codes.max()) + 1, len(data), dtype=np.int64)
        np.minimum.at(firsts, codes, np.arange(len(data), dtype=np.int64))
        distinct.append(RuleGroup(rules=rules, values=data[ordered], codes=codes, firsts=firsts))
    return distinct, whole


def _combination_codes(data: pd.DataFrame, columns: list[str], limit: int) -> np.ndarray | None:
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


_SAMPLE_ROWS = 20_000


def _looks_near_unique(column: pd.Series, limit: int) -> bool:
    """A cheap look at the first rows of a long column: mostly distinct there means validate every row.
    (Only the faster path depends on it: both paths give the same verdict.)"""
    if len(column) < 4 * _SAMPLE_ROWS:
        return False
    return column.iloc[:_SAMPLE_ROWS].nunique(dropna=False) > _SAMPLE_ROWS * limit / len(column)


def distinct_frame(groups: list[RuleGroup]) -> pd.DataFrame:
    """One frame holding every group's distinct combinations, row i of each group side by side.

    Groups share no column. A group with fewer combinations than the longest is padded by repeating
    its first combination: a repeat adds no verdict that the first did not already give.
    """
    length = max(len(g.firsts) for g in groups)
    parts = []
    for group in groups:
        take = np.concatenate([group.firsts, np.full(length - len(group.firsts), group.firsts[0])])
        parts.append(group.values.iloc[take].reset_index(drop=True))
    return pd.concat(parts, axis=1)
