"""The GX expectation behind ``iteration_id_malformed``: column B holds an iteration of the activity in column A.

An iteration id is the row's own activity code, a hyphen, one letter A-Z, a hyphen and two digits
(``N5-35-B-24``), which is the form :mod:`txpipe.ingest.iterations` gives every spelling it recognises.
A well-formed id of another activity (``N5-35-B-24`` on a row of ``E3-450``) is no iteration of the
row's activity, so the rule reads both columns: GX has no core expectation for it, so txpipe defines
``expect_column_pair_values_b_to_be_an_iteration_of_a``, a column-pair map expectation (each row judged
by its own two values, rows missing either value skipped as GX's pair expectations do), vectorised for
pandas, the engine txpipe validates with. GX knows it once this module is imported, which
:func:`txpipe.ingest.suite.load_suite` does before it loads the suite.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pandas as pd
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider.column_pair_condition_partial import (
    column_pair_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_pair_map_metric_provider import (
    ColumnPairMapMetricProvider,
)

EXPECTATION = "expect_column_pair_values_b_to_be_an_iteration_of_a"
METRIC = "column_pair_values.txpipe_b_is_an_iteration_of_a"
# What follows the activity code in an iteration id: -LETTER-YY, five characters.
TAIL = r"-[A-Z]-[0-9]{2}"
TAIL_LENGTH = 5


def is_iteration_of(activity_codes: pd.Series, iterations: pd.Series) -> pd.Series:
    """Per row, whether the iteration is the activity code followed by -LETTER-YY (False where either is missing)."""
    codes, ids = activity_codes.astype("string[pyarrow]"), iterations.astype("string[pyarrow]")
    own = ids.str.slice(stop=-TAIL_LENGTH) == codes
    shaped = ids.str.slice(start=-TAIL_LENGTH).str.fullmatch(TAIL) & (ids.str.len() > TAIL_LENGTH)
    return (own & shaped).fillna(False).astype(bool)


class ColumnPairValuesBIsAnIterationOfA(ColumnPairMapMetricProvider):
    condition_metric_name = METRIC
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_A",
        "column_B",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)  # type: ignore[untyped-decorator]
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:
        return is_iteration_of(column_A, column_B)


class ExpectColumnPairValuesBToBeAnIterationOfA(ColumnPairMapExpectation):
    """Expect column B to hold an iteration id of the activity code in column A: A, then -LETTER-YY."""

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = "either_value_is_missing"
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["txpipe"], "contributors": []}
    map_metric = METRIC
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B")
