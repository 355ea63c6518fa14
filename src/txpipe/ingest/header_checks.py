"""What :func:`txpipe.ingest.values.plan_columns` checks of a file's headers against its source's config
(README "Adding a source"), beyond mapping them. Messages name columns by position and config keys
(which the config's author wrote), never a delivered header that does not look like a name.

- The empty header: ``[columns]`` maps a header cell left empty with the key ``""``. A file with two or
  more empty headers makes that key ambiguous, so the file is refused, naming their positions (a file
  whose config does not use ``""`` may have any number: they are not stored, like any other column).
- ``[dates] period``: the period column gives start_date and end_date, so a file that also holds a
  column mapped to either is refused, naming the positions.
- A ``[columns]`` key (or the ``[dates] period`` header) that matches no header of the file is
  counted in the delivery's ledger ``warnings`` as ``column_not_delivered`` (a source's files may
  differ); when a required column is then missing, the rejection names those keys.
"""

from __future__ import annotations

from txpipe.ingest.config_tables import PERIOD_COLUMNS
from txpipe.ingest.readers import BlankHeader, UnreadableFile
from txpipe.ingest.sources import SourceConfig, header_key

COLUMN_NOT_DELIVERED = "column_not_delivered"


def _positions(positions: list[int]) -> str:
    shown = [str(p) for p in positions]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def refuse_ambiguous_headers(headers: list[str], config: SourceConfig) -> None:
    """Refuse the file when the config maps the empty header and the file has several, or when it
    derives the dates from a period and the file also holds a date column."""
    uses_empty = "" in config.columns or config.period == ""
    blank = [p for p, h in enumerate(headers, start=1) if isinstance(h, BlankHeader)]
    if uses_empty and len(blank) > 1:
        raise UnreadableFile(
            f'the source config maps the empty header ("") but the header has {len(blank)} empty columns '
            f"(columns {_positions(blank)}): give all but one a name, or deliver one only"
        )
    if config.period is None:
        return
    period_at = [p for p, h in enumerate(headers, start=1) if header_key(h) == config.period]
    dates_at = [
        p for p, h in enumerate(headers, start=1) if p not in period_at and config.canonical_name(h) in PERIOD_COLUMNS
    ]
    if dates_at:
        where = f" (column {period_at[0]})" if period_at else ""
        raise UnreadableFile(
            f"the source config derives start_date and end_date from [dates] period{where}, but the file also "
            f"holds them (column {_positions(dates_at)}): deliver one or the other"
        )


def keys_not_delivered(headers: list[str], config: SourceConfig) -> list[str]:
    """The config's header keys (``[columns]``, then the ``[dates] period``) that match no header of the file."""
    delivered = {header_key(h) for h in headers}
    keys = [*config.columns, *([config.period] if config.period is not None else [])]
    return [k for k in keys if k not in delivered]


def missing_hint(headers: list[str], config: SourceConfig) -> str:
    """For a rejection for missing columns: the config keys this file does not have, if any."""
    missing = keys_not_delivered(headers, config)
    if not missing:
        return ""
    parts = []
    columns = [k for k in missing if k != config.period]
    if columns:
        parts.append("[columns] key(s) matching no header of this file: " + ", ".join(f"'{k}'" for k in columns))
    if config.period is not None and config.period in missing:
        parts.append(f"[dates] period names '{config.period}', which this file does not have")
    return "; " + "; ".join(parts)
