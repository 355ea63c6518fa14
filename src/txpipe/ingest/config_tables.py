"""Two tables of a source config (README "Adding a source"), checked here and read by
:func:`txpipe.ingest.sources.parse_source_config`; anything wrong raises ValueError with the reason,
which refuses the config like any other config error:

- ``[dates] period = "<header>"``: the delivered column holding a period (``2025``, ``2025-03``,
  ``2025-W10``, ``2025-Q1``, ``2025-H2``; :mod:`txpipe.ingest.periods`), from which both start_date and
  end_date are derived. The config then cannot also give those columns (a ``[columns]`` mapping or a
  ``[defaults]`` value), nor map the period's header to another column, nor be an xAPI source.
- ``[quarantine] max_share = 0.99``: the share of this source's rows a run may quarantine before it
  alerts (instead of TXPIPE_MAX_QUARANTINE_SHARE), for exports that are mostly grid zeros.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

PERIOD_COLUMNS = ("start_date", "end_date")


def kind_of(value: object) -> str:
    """What a TOML value is, in words for a message (never the value itself)."""
    return {
        dict: "a table",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _table(value: object, name: str, keys: set[str], origin: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"{origin}: [{name}] must be a table (key = value lines), not {kind_of(value)}")
    unknown = set(value) - keys
    if unknown:
        raise ValueError(f"{origin}: unknown key(s) {sorted(unknown)} in [{name}]; allowed: {sorted(keys)}")
    return value


def parse_period(data: Mapping[str, object], origin: str) -> str | None:
    """``[dates] period``: the delivered header (as written) of the period column, or None."""
    if "dates" not in data:
        return None
    period = _table(data["dates"], "dates", {"period"}, origin).get("period")
    if period is not None and not isinstance(period, str):
        raise ValueError(f"{origin}: [dates] period must be a string (a delivered header), not {kind_of(period)}")
    return period


def check_period(
    period: str,
    columns: Mapping[str, str],
    defaults: Mapping[str, str],
    source_format: str,
    origin: str,
) -> None:
    """Refuse what cannot go with ``[dates] period`` (its folded header): another source of the dates,
    another use of its header, an xAPI source."""
    if source_format != "rows":
        raise ValueError(f'{origin}: [dates] period applies to sources of rows, not to format = "{source_format}"')
    if any(target in PERIOD_COLUMNS for target in columns.values()):
        raise ValueError(
            f"{origin}: [dates] period gives start_date and end_date, so [columns] cannot map a header to them"
        )
    if any(column in PERIOD_COLUMNS for column in defaults):
        raise ValueError(f"{origin}: [dates] period gives start_date and end_date, so [defaults] cannot give them")
    if period in columns:
        raise ValueError(f"{origin}: [dates] period names a header that [columns] also maps")


def parse_max_share(data: Mapping[str, object], origin: str) -> float | None:
    """``[quarantine] max_share``: a number from 0 to 1, or None when the config sets none."""
    if "quarantine" not in data:
        return None
    share = _table(data["quarantine"], "quarantine", {"max_share"}, origin).get("max_share")
    if share is None:
        return None
    rule = f"{origin}: [quarantine] max_share must be a number from 0 to 1 (the share of the source's rows "
    rule += "quarantined above which a run alerts)"
    if isinstance(share, bool) or not isinstance(share, (int, float)):
        raise ValueError(f"{rule}, not {kind_of(share)}")
    if not (math.isfinite(share) and 0 <= share <= 1):
        raise ValueError(rule)
    return float(share)
