"""Delivered rows -> canonical rows: column mapping, defaults, aliases, enums, dates, nations.

Normalisation never rejects a row: a value it cannot make canonical is passed on as delivered,
so that validation names the rule it breaks. The participant_ref is replaced by its
pseudonym in the workspace (:mod:`txpipe.ingest.workspace`) as soon as a chunk is read, before
anything is written, and goes no further.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest.header_checks import COLUMN_NOT_DELIVERED, keys_not_delivered, missing_hint, refuse_ambiguous_headers
from txpipe.ingest.periods import period_end, period_start
from txpipe.ingest.readers import STRING, UnreadableFile, looks_like_a_name
from txpipe.ingest.sources import SourceConfig, fold_header
from txpipe.reference import Reference
from txpipe.schema import COLUMN_DEFAULTS, ENUMS, LANDING_COLUMNS, REQUIRED_COLUMNS

CANONICAL_COLUMNS: tuple[str, ...] = tuple("participant_pid" if c == "participant_ref" else c for c in LANDING_COLUMNS)
# Delivered values kept for quarantine reports: everything except the raw participant_ref.
REPORTABLE_COLUMNS: tuple[str, ...] = tuple(c for c in LANDING_COLUMNS if c != "participant_ref")

_DATE_FORMATS = {
    "ISO": (),
    "DMY": ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y"),
    "MDY": ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y"),
}
# ISO dates, zero padding optional (2024-3-4), with a midnight time allowed (JSON/Excel exports).
_ISO_DATE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$")


@dataclass(frozen=True)
class ColumnPlan:
    """Which delivered header feeds which canonical column, and which headers are not kept."""

    mapping: dict[str, str]
    ignored: tuple[str, ...]
    copies: dict[str, str] = field(default_factory=dict)  # canonical column -> the one whose values it takes
    warnings: dict[str, int] = field(default_factory=dict)  # the delivery's, e.g. column_not_delivered


def plan_columns(headers: list[str], config: SourceConfig) -> ColumnPlan:
    """Map delivered headers to canonical columns. Headers outside the contract are listed in
    ``ignored`` by name when they look like names, else as 'column N' (a header may hold data)."""
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    taken: dict[str, int] = {}
    refuse_ambiguous_headers(headers, config)
    for position, header in enumerate(headers, start=1):
        canonical = config.canonical_name(header)
        if canonical is None:
            ignored.append(header if looks_like_a_name(header) else f"(column {position})")
            continue
        if canonical in taken:
            raise UnreadableFile(f"columns {taken[canonical]} and {position} both map to '{canonical}'")
        taken[canonical] = position
        mapping[header] = canonical
    copies = {"end_date": "start_date"} if config.period is not None and "start_date" in taken else {}
    taken.update({target: taken[origin] for target, origin in copies.items()})  # the period gives both dates
    missing = [c for c in REQUIRED_COLUMNS if c not in taken and c not in config.defaults]
    if missing and not taken:
        raise UnreadableFile(
            f"missing required column(s) {', '.join(missing)}: the header (first record) has {len(headers)} "
            f"field(s) and no known column name; is the header row missing?{missing_hint(headers, config)}"
        )
    if missing:
        found = ", ".join(f"{canonical} (column {position})" for canonical, position in taken.items())
        raise UnreadableFile(
            f"missing required column(s) {', '.join(missing)}; the header has {len(headers)} column(s), "
            f"of which these are known: {found}{missing_hint(headers, config)}"
        )
    unmatched = len(keys_not_delivered(headers, config))
    warnings = {COLUMN_NOT_DELIVERED: unmatched} if unmatched else {}
    return ColumnPlan(mapping=mapping, ignored=tuple(ignored), copies=copies, warnings=warnings)


def delivered_values(frame: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """The delivered values under canonical names (absent columns are blank)."""
    renamed = frame[list(plan.mapping)].rename(columns=plan.mapping)
    for target, origin in plan.copies.items():
        renamed[target] = renamed[origin]
    return renamed.reindex(columns=list(LANDING_COLUMNS)).astype("string")


def _map_uniques(series: pd.Series, convert: Callable[[str], str | None]) -> pd.Series:
    """Apply ``convert`` once per distinct value (rosters repeat values heavily); the column is
    dictionary-encoded and rebuilt in Arrow, so no Python object is made per row."""
    values = pa.array(series, type=pa.string())
    if isinstance(values, pa.ChunkedArray):  # pyarrow-backed columns arrive in pieces
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    converted = pa.array([convert(value) for value in encoded.dictionary.to_pylist()], pa.string())
    return pd.Series(pd.array(pc.take(converted, encoded.indices), dtype=STRING), index=series.index, name=series.name)


def _enum_key(value: str) -> str:
    return re.sub(r"[\s_\-]+", "_", value.strip().casefold())


def _enum_converter(column: str, config: SourceConfig) -> Callable[[str], str]:
    allowed = {_enum_key(v): v for v in ENUMS[column]}
    aliases = config.aliases.get(column, {})

    def convert(value: str) -> str:
        value = aliases.get(fold_header(value), value)
        return allowed.get(_enum_key(value), value)

    return convert


def _alias_converter(column: str, config: SourceConfig) -> Callable[[str], str]:
    aliases = config.aliases.get(column, {})
    return lambda value: aliases.get(fold_header(value), value)


def parse_date(value: str, order: str) -> str:
    """ISO text for a real calendar date, else the value unchanged (validation reports it)."""
    match = _ISO_DATE.match(value)
    candidates = [(match.group(1), "%Y-%m-%d")] if match else []
    candidates += [(value, fmt) for fmt in _DATE_FORMATS[order]]
    for text, fmt in candidates:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return value


def _date_converter(column: str, config: SourceConfig) -> Callable[[str], str]:
    """start_date and end_date as ISO dates: from a period when the config names one ([dates] period;
    a value that is not a period becomes NOT_A_PERIOD, which period_invalid fails), else from dates."""
    if config.period is not None:
        return period_start if column == "start_date" else period_end
    return lambda value: parse_date(value, config.date_order)


# A number as the README writes it: optional sign, digits with an optional fraction (or a fraction
# alone), optional exponent; ASCII digits only: no _, no spaces, no inf or nan, no hex.
NUMBER = re.compile(r"([+-]?)([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?", re.ASCII)
# The bounds of score_invalid (expectations/participation.json: a number from 0 to 100, inclusive).
SCORE_BOUNDS = (Decimal(0), Decimal(100))


def exact_number(text: str) -> Decimal | None:
    """The exact value of a number written as :data:`NUMBER` says, or None if it is not one. An exponent
    far beyond the digits (``1e999999999999999999999``) is brought within them first: the value then
    stands where it stood against any bound from 0.001 to 1000 (above them all, or below 0.001)."""
    match = NUMBER.fullmatch(text)
    if match is None:
        return None
    sign, digits, exponent = match.groups()
    reach = len(text) + 3  # beyond it, a non-zero value is over 1000 or under 0.001 whatever its digits
    if exponent is None:
        power = 0
    elif len(exponent.lstrip("+-").lstrip("0")) > 9:  # too long to be worth reading as an int
        power = -reach if exponent.startswith("-") else reach
    else:
        power = max(-reach, min(reach, int(exponent)))
    return Decimal(f"{sign}{digits}e{power}")


def plain_decimal(number: float) -> str:
    """A float as plain decimal text, without exponent or trailing zeros (1e-05 is 0.00001)."""
    text = format(Decimal(repr(number + 0.0)), "f")  # + 0.0: -0.0 is 0
    return text.rstrip("0").rstrip(".") if "." in text else text


def _score(value: str) -> str:
    """A score within its bounds, judged on its exact value, as plain decimal text; anything else
    (another notation, a value beyond the bounds however little) as delivered, so the rule fails."""
    exact = exact_number(value)
    if exact is None or not SCORE_BOUNDS[0] <= exact <= SCORE_BOUNDS[1]:
        return value
    return plain_decimal(float(value))


def normalize(delivered: pd.DataFrame, config: SourceConfig, reference: Reference) -> pd.DataFrame:
    """Canonical text values for every column of delivered values (participant_pid passed through)."""
    out = delivered.copy(deep=False)  # copy-on-write: replaced columns never touch the caller's frame
    for column, value in {**COLUMN_DEFAULTS, **config.defaults}.items():
        out[column] = out[column].fillna(value)
    for column in ENUMS:
        out[column] = _map_uniques(out[column], _enum_converter(column, config))
    for column in ("activity_code", "iteration_id", "provider", "nation", "headcount", "score"):
        if column in config.aliases:
            out[column] = _map_uniques(out[column], _alias_converter(column, config))
    for column in ("activity_code", "iteration_id"):
        out[column] = out[column].str.upper()
    for column in ("start_date", "end_date"):
        out[column] = _map_uniques(out[column], _date_converter(column, config))
    out["nation"] = _map_uniques(out["nation"], reference.resolve_nation)
    out["headcount"] = _map_uniques(out["headcount"], lambda v: v[:-2] if v.endswith(".0") else v)
    out["score"] = _map_uniques(out["score"], _score)
    return out[list(CANONICAL_COLUMNS)]
