"""The run summary's figures for the latest year, typed: partner participants and course completion.

Rows are read from the warehouse by column name (``headline_*.sql``), never by position, so a column
added to those queries cannot shift what a report prints. ``build.json`` keeps them as a list of
objects per table; files written before that (``{"columns": [...], "rows": [[...]]}``) still read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from txpipe.warehouse import read_sql
from txpipe.warehouse.query import connect_read_only


@dataclass(frozen=True)
class PartnerParticipants:
    """One framework's attended partner headcount in the latest year (headline_partner_participants.sql)."""

    year: int
    framework: str
    education: int
    training: int
    exercise: int
    total: int
    nations: int


@dataclass(frozen=True)
class CourseCompletion:
    """One framework's course completion in the latest year (headline_course_completion.sql)."""

    year: int
    framework: str
    completed_or_passed: int
    attended_total: int
    completion_rate: float | None


Row = TypeVar("Row", PartnerParticipants, CourseCompletion)


@dataclass(frozen=True)
class Headline:
    """Both headline tables of one published warehouse."""

    partners: tuple[PartnerParticipants, ...] = ()
    completion: tuple[CourseCompletion, ...] = ()

    @property
    def year(self) -> int | None:
        return self.partners[0].year if self.partners else None

    def totals_by_framework(self) -> dict[str, int]:
        return {row.framework: row.total for row in self.partners}

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {"partners": [asdict(r) for r in self.partners], "completion": [asdict(r) for r in self.completion]}

    @classmethod
    def from_json(cls, document: object) -> Headline:
        """What ``to_json`` wrote; or, from an older build.json, the partner table as columns and rows."""
        if not isinstance(document, dict):
            return cls()
        if "columns" in document:  # before typed headlines: the partner table only
            return cls(partners=_rows(PartnerParticipants, document["columns"], document.get("rows") or []))
        return cls(
            partners=tuple(_from_mapping(PartnerParticipants, r) for r in document.get("partners") or []),
            completion=tuple(_from_mapping(CourseCompletion, r) for r in document.get("completion") or []),
        )


def _from_mapping(kind: type[Row], values: dict[str, Any]) -> Row:
    return kind(**{f.name: values[f.name] for f in fields(kind)})


def _rows(kind: type[Row], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[Row, ...]:
    return tuple(_from_mapping(kind, dict(zip(columns, row, strict=True))) for row in rows)


def read_headline(warehouse: Path) -> Headline:
    """Both headline tables, read from the published warehouse."""
    with connect_read_only(warehouse) as con:
        tables = []
        for name in ("headline_partner_participants", "headline_course_completion"):
            cursor = con.execute(read_sql(name))
            tables.append(([d[0] for d in cursor.description or ()], cursor.fetchall()))
    (partner_columns, partner_rows), (completion_columns, completion_rows) = tables
    return Headline(
        partners=_rows(PartnerParticipants, partner_columns, partner_rows),
        completion=_rows(CourseCompletion, completion_columns, completion_rows),
    )
