"""The row-validation suite: the Great Expectations suite stored in ``expectations/``, loaded and described.

The suite is JSON, named for the dataset it guards (``participation.json``), and loaded at run
time. Each expectation carries ``meta.rule`` (the name reported in quarantine reasons),
``severity`` (critical: quarantine the row; warning: keep it, count it) and optionally
``meta.depends_on`` (rules whose failure on the same row makes this one moot, e.g. date order
is not judged on a date that is not a date).

Every expectation must judge a row by that row's values alone (GX's map expectations): the loader
refuses any other kind. Each becomes a :class:`Rule` that says which columns it reads and which
suite parameters it takes, which is what :mod:`txpipe.ingest.validate` plans with. Nothing here runs
GX (see :mod:`txpipe.ingest.gx_runner`); GX is imported only to load the suite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

SUITE_FILE = "participation.json"

# The suite's parameters as one validation is given them: parameter name ({"$PARAMETER": name}
# in an expectation) -> its values (reference codes, conflicting ids).
Parameters = dict[str, list[str]]
# Positions of rows (0 .. rows-1 in the frame validated), e.g. the rows that failed a rule.
Positions = npt.NDArray[np.intp]


class SuiteError(RuntimeError):
    """The suite on disk cannot be trusted (GX dropped or failed an expectation)."""


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
    document: dict[str, Any]  # the suite file as loaded (JSON), to make GX sub-suites from

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)

    def subset(self, names: frozenset[str]) -> ExpectationSuite:
        """A GX suite of only the named rules (cached: the same rule groups recur batch after batch)."""
        return _sub_suite(self, names)


def _named_columns(kwargs: Mapping[str, Any]) -> list[str]:
    return [n for n in (kwargs.get(k) for k in ("column", "column_A", "column_B")) if n]


def _columns(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple("participant_ref" if n == "participant_pid" else n for n in _named_columns(kwargs))


def _parameters(value: object) -> tuple[str, ...]:
    """Names of the suite parameters a kwargs value refers to, however deep."""
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return (str(value["$PARAMETER"]),)
        return tuple(dict.fromkeys(n for v in value.values() for n in _parameters(v)))
    if isinstance(value, (list, tuple)):
        return tuple(dict.fromkeys(n for v in value for n in _parameters(v)))
    return ()


def _reads(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    names = _named_columns(kwargs) + list(kwargs.get("column_list") or ())
    condition = kwargs.get("row_condition")
    if isinstance(condition, dict):  # GX keeps a pandas condition as {"pass_through_filter": ...}
        condition = condition.get("pass_through_filter")
    if condition:
        names += re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(condition))
    return tuple(dict.fromkeys(n for n in names if n))


# Map expectations whose verdict on a row depends on the other rows (uniqueness across the batch).
_ACROSS_ROWS = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})


def _row_wise(expectation: Expectation) -> bool:
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

    import txpipe.ingest.iteration_expectation  # noqa: F401 (GX learns the expectation iteration_id_malformed uses)

    path = expectations_dir / SUITE_FILE
    document = json.loads(path.read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(**document)
    if len(suite.expectations) != len(document["expectations"]):
        raise SuiteError(
            f"{path}: {len(document['expectations'])} expectations in the file but GX loaded "
            f"{len(suite.expectations)}; an expectation type is misspelt or unknown"
        )
    rules = [_rule(path, expectation) for expectation in suite.expectations]
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise SuiteError(f"{path}: rule names must be unique")
    return RowSuite(path=path, rules=tuple(rules), document=document)


def _rule(path: Path, expectation: Expectation) -> Rule:
    """One expectation of the suite at ``path`` as a rule; a SuiteError if it has no name or is not row-wise."""
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
    return Rule(
        name=meta["rule"],
        severity=str(getattr(expectation.severity, "value", expectation.severity)),
        columns=_columns(kwargs),
        depends_on=tuple(meta.get("depends_on", ())),
        reads=_reads(kwargs),
        parameters=_parameters(dict(kwargs)),
    )


_sub_suites: dict[tuple[Path, frozenset[str]], ExpectationSuite] = {}


def _sub_suite(suite: RowSuite, names: frozenset[str]) -> ExpectationSuite:
    import great_expectations as gx

    key = (suite.path, names)
    if key not in _sub_suites:
        document = dict(suite.document)
        document["expectations"] = [e for e in document["expectations"] if e["meta"]["rule"] in names]
        document["name"] = f"{document.get('name', 'suite')}:{len(_sub_suites)}"
        _sub_suites[key] = gx.ExpectationSuite(**document)
    return _sub_suites[key]
