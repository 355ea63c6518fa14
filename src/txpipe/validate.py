"""Row validation with the Great Expectations suite stored in ``expectations/``.

The suite is JSON, named for the dataset it guards (``participation.json``), and loaded at run
time. Each expectation carries ``meta.rule`` (the name reported in quarantine reasons),
``severity`` (critical: quarantine the row; warning: keep it, count it) and optionally
``meta.depends_on`` (rules whose failure on the same row makes this one moot, e.g. date order
is not judged on a date that is not a date).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SUITE_FILE = "participation.json"

_gx_lock = threading.Lock()
_gx_batch_definition = None


class SuiteError(RuntimeError):
    """The suite on disk cannot be trusted (GX dropped or failed an expectation)."""


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    columns: tuple[str, ...]
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class RowSuite:
    path: Path
    suite: object  # great_expectations.ExpectationSuite
    rules: tuple[Rule, ...]

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)


def _columns(kwargs: dict) -> tuple[str, ...]:
    names = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    return tuple("participant_ref" if n == "participant_pid" else n for n in names if n)


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
        rules.append(
            Rule(
                name=meta["rule"],
                severity=str(getattr(expectation.severity, "value", expectation.severity)),
                columns=_columns(expectation.configuration.kwargs),
                depends_on=tuple(meta.get("depends_on", ())),
            )
        )
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise SuiteError(f"{path}: rule names must be unique")
    return RowSuite(path=path, suite=suite, rules=tuple(rules))


def _batch_definition():
    global _gx_batch_definition
    if _gx_batch_definition is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("txpipe").add_dataframe_asset("deliveries")
        _gx_batch_definition = asset.add_batch_definition_whole_dataframe("delivery")
    return _gx_batch_definition


@dataclass
class Verdict:
    """Failed row positions (0-based, in frame order) per rule."""

    rows: int
    failures: dict[str, np.ndarray]
    rules: tuple[Rule, ...]

    def failed(self, severity: str) -> dict[str, np.ndarray]:
        wanted = {r.name for r in self.rules if r.severity == severity}
        return {name: pos for name, pos in self.failures.items() if name in wanted and len(pos)}

    def sparse_reasons(self, severity: str, rows: np.ndarray) -> dict[int, list[str]]:
        """For the given row positions, the rules of this severity each broke (only rows that broke any)."""
        wanted = set(int(r) for r in rows)
        out: dict[int, list[str]] = {}
        for rule in self.rules:
            if rule.severity != severity:
                continue
            for position in self.failures.get(rule.name, ()):
                position = int(position)
                if position in wanted:
                    out.setdefault(position, []).append(rule.name)
        return out

    def quarantined_mask(self) -> np.ndarray:
        mask = np.zeros(self.rows, dtype=bool)
        for positions in self.failed("critical").values():
            mask[positions] = True
        return mask


def validate(frame: pd.DataFrame, suite: RowSuite, parameters: dict[str, list]) -> Verdict:
    """Run the suite on a canonical frame; return which rows broke which rules."""
    data = frame.reset_index(drop=True)
    with _gx_lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": data})
        result = batch.validate(
            suite.suite,
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
    if set(failures) != set(suite.rule_names):
        raise SuiteError(f"GX returned results for {sorted(failures)}, expected {sorted(suite.rule_names)}")
    for rule in suite.rules:  # a rule is moot on rows where a rule it depends on failed
        for dependency in rule.depends_on:
            if len(failures.get(rule.name, ())) and len(failures.get(dependency, ())):
                failures[rule.name] = np.setdiff1d(failures[rule.name], failures[dependency])
    return Verdict(rows=len(data), failures=failures, rules=suite.rules)
