"""Periods as dates (README "Adding a source", ``[dates] period``): one delivered value names a period,
whose first day is the row's start_date and whose last day its end_date.

The grammar, case-insensitive, surrounding spaces ignored::

    period  = year [ "-" ( month | "W" week | "Q" quarter | "H" half ) ]
    year    = 4 digits, 1900 to 2099          2025       1 January to 31 December
    month   = 2 digits, 01 to 12              2025-03    the month
    week    = 2 digits, 01 to 52, or 53 when  2025-W10   the ISO week, Monday to Sunday (its days may
              the ISO year has 53 weeks                  fall in the year before or after)
    quarter = 1 to 4                          2025-Q1    January-March, April-June, ...
    half    = 1 or 2                          2025-H2    January-June, July-December

Digits are ASCII. Every day of the period must lie within 1900-01-01 to 2099-12-31, the dates the date
rules accept (so ``2099-W53``, which ends on 3 January 2100, is not a period). Anything else is not a
period: normalisation then gives both dates :data:`NOT_A_PERIOD`, which the suite's ``period_invalid``
rule quarantines (and which no delivered value can equal: it holds a NUL character, and a delivered
value holding one is quarantined by the reader as ``nul_character``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

# What normalisation puts in start_date and end_date for a value that is not a period: the suite's
# period_invalid rule (expectations/participation.json) fails exactly this value.
NOT_A_PERIOD = "\x00not a period"

_PERIOD = re.compile(r"([0-9]{4})(?:-(?:([0-9]{2})|W([0-9]{2})|Q([1-4])|H([12])))?", re.ASCII | re.IGNORECASE)
_FIRST_DAY, _LAST_DAY = dt.date(1900, 1, 1), dt.date(2099, 12, 31)


def period_days(text: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the period ``text`` names, or None if it names none."""
    match = _PERIOD.fullmatch(text.strip())
    if match is None:
        return None
    year = int(match.group(1))
    if not 1900 <= year <= 2099:
        return None
    month, week, quarter, half = (None if g is None else int(g) for g in match.groups()[1:])
    if month is not None:
        days = _months(year, month, month) if 1 <= month <= 12 else None
    elif week is not None:
        days = _week(year, week)
    elif quarter is not None:
        days = _months(year, 3 * quarter - 2, 3 * quarter)
    elif half is not None:
        days = _months(year, 6 * half - 5, 6 * half)
    else:
        days = _months(year, 1, 12)
    if days is None or days[0] < _FIRST_DAY or days[1] > _LAST_DAY:
        return None
    return days


def _months(year: int, first: int, last: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, first, 1), dt.date(year, last, calendar.monthrange(year, last)[1])


def _week(year: int, week: int) -> tuple[dt.date, dt.date] | None:
    try:
        return dt.date.fromisocalendar(year, week, 1), dt.date.fromisocalendar(year, week, 7)
    except ValueError:  # week 00, or 53 in a year of 52 ISO weeks
        return None


def period_start(text: str) -> str:
    """The ISO first day of the period, or :data:`NOT_A_PERIOD`."""
    days = period_days(text)
    return NOT_A_PERIOD if days is None else days[0].isoformat()


def period_end(text: str) -> str:
    """The ISO last day of the period, or :data:`NOT_A_PERIOD`."""
    days = period_days(text)
    return NOT_A_PERIOD if days is None else days[1].isoformat()
