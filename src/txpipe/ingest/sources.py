"""Per-source configuration: how a delivering source's files map onto the canonical columns.

One TOML file per source, ``data/sources/<source>.toml`` (the folder can be moved with
``TXPIPE_SOURCES_DIR``). A source with no file delivers the canonical columns as they are.
Adding a source needs no code: create its landing folder and, if its columns differ, its
config. See README "Adding a source" for the keys.
"""

from __future__ import annotations

import codecs
import datetime as dt
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from txpipe.ingest.config_tables import check_period, parse_max_share, parse_period
from txpipe.ingest.config_tables import kind_of as _kind
from txpipe.ingest.readers import BlankHeader, ReadOptions
from txpipe.ingest.xapi_statements import XapiConfig, parse_xapi_config
from txpipe.schema import LANDING_COLUMNS
from txpipe.settings import CHUNK_ROWS, ReadLimits

if TYPE_CHECKING:
    from txpipe.ingest.readers.xapi import StatementSetup

DATE_ORDERS = ("ISO", "DMY", "MDY")
_TOP_LEVEL_KEYS = {
    "description",
    "encoding",
    "delimiter",
    "sheet",
    "date_order",
    "columns",
    "defaults",
    "aliases",
    "format",
    "xapi",
    "dates",
    "quarantine",
}
FORMATS = ("rows", "xapi")  # rows: CSV, XLSX, JSON rosters (the default); xapi: LRS statement exports
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SourceConfigError(ValueError):
    """A source config that cannot be used: each file of that source is rejected with the reason (and
    recorded), and the run goes on."""


def fold_header(name: str) -> str:
    """Header names match case-insensitively with surrounding and repeated spaces ignored."""
    return " ".join(str(name).split()).casefold()


def header_key(header: str) -> str:
    """The ``[columns]`` key a delivered header answers to: its folded name, or ``""`` for a header cell
    left empty (a reader names it ``(column N)``: :class:`BlankHeader`)."""
    return "" if isinstance(header, BlankHeader) else fold_header(header)


@dataclass(frozen=True)
class SourceConfig:
    name: str
    description: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    date_order: str = "ISO"
    columns: dict[str, str] = field(default_factory=dict)  # folded delivered header -> canonical
    defaults: dict[str, str] = field(default_factory=dict)  # canonical column -> constant
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> folded value -> value
    format: str = "rows"
    xapi: XapiConfig = field(default_factory=XapiConfig)  # how statements become records (README "xAPI sources")
    period: str | None = None  # [dates] period: the folded header of the column whose periods give both dates
    max_quarantine_share: float | None = None  # [quarantine] max_share: the run alerts above it (README "Alerts")

    def canonical_name(self, header: str) -> str | None:
        """The canonical column a delivered header stands for, or None if it is not kept (the period
        column stands for start_date; :func:`txpipe.ingest.values.plan_columns` gives it end_date too)."""
        key = header_key(header)
        if key == self.period:
            return "start_date"
        if key in self.columns:
            return self.columns[key]
        return key if key in LANDING_COLUMNS else None

    def is_known_header(self, header: str) -> bool:
        return self.canonical_name(header) is not None

    def read_options(
        self, chunk_rows: int = CHUNK_ROWS, limits: ReadLimits | None = None, statements: StatementSetup | None = None
    ) -> ReadOptions:
        return ReadOptions(
            statements=statements,
            chunk_rows=chunk_rows,
            limits=limits or ReadLimits(),
            encoding=self.encoding,
            delimiter=self.delimiter,
            sheet=self.sheet,
            is_known_header=self.is_known_header,
        )


def load_source_config(sources_dir: Path, source: str) -> SourceConfig:
    """Read ``<sources_dir>/<source>.toml``; a missing file means canonical columns.

    Anything wrong in the file (its bytes, its TOML, a key, a value's type or shape) raises
    :class:`SourceConfigError` with the reason: the source's files are rejected, never crash."""
    if not _SOURCE_NAME.match(source):
        raise SourceConfigError(
            "the source folder name must be lower-case letters, digits, '-' or '_' (at most 64 characters)"
        )
    path = sources_dir / f"{source}.toml"
    if not path.exists():
        return SourceConfig(name=source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SourceConfigError(f"{path}: not valid TOML ({error})") from None
    except UnicodeDecodeError:
        raise SourceConfigError(f"{path}: not UTF-8 text") from None
    except RecursionError:
        raise SourceConfigError(f"{path}: nested too deeply to be a source config") from None
    except OSError as error:
        raise SourceConfigError(f"{path}: cannot be read ({type(error).__name__})") from None
    return parse_source_config(source, data, origin=str(path))


_SCALARS = (str, int, float, bool, dt.date, dt.datetime, dt.time)


def _text(data: Mapping[str, object], key: str, origin: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise SourceConfigError(f"{origin}: {key} must be a string, not {_kind(value)}")
    return value


def _table(value: object, where: str, origin: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise SourceConfigError(f"{origin}: [{where}] must be a table (key = value lines), not {_kind(value)}")
    return value


def _scalar(value: object, where: str, origin: str) -> str:
    if not isinstance(value, _SCALARS) or (isinstance(value, float) and not math.isfinite(value)):
        raise SourceConfigError(f"{origin}: every value in [{where}] must be a string or number, not {_kind(value)}")
    return str(value)


def _encoding(data: Mapping[str, object], origin: str) -> str | None:
    encoding = _text(data, "encoding", origin)
    if encoding is None:
        return None
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise SourceConfigError(f"{origin}: encoding names no known text encoding") from None
    if not getattr(info, "_is_text_encoding", True):
        raise SourceConfigError(
            f"{origin}: encoding '{info.name}' is not a text encoding (e.g. utf-8, latin-1, cp1252)"
        )
    return encoding


def _delimiter(data: Mapping[str, object], origin: str) -> str | None:
    delimiter = _text(data, "delimiter", origin)
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise SourceConfigError(
            f'{origin}: delimiter must be one character (not a quote or a line break), e.g. ";" or "\\t"'
        )
    return delimiter


def _canonical(column: object, where: str, origin: str) -> str:
    """``column`` as the canonical column it must be (a key or value of the table ``[where]``)."""
    if column not in LANDING_COLUMNS:
        raise SourceConfigError(
            f"{origin}: [{where}] maps to something that is not a canonical column "
            f"(canonical: {', '.join(LANDING_COLUMNS)})"
        )
    return str(column)


def _columns(data: Mapping[str, object], origin: str) -> dict[str, str]:
    """``[columns]``: folded delivered header -> canonical column."""
    return {
        fold_header(k): _canonical(v, "columns", origin)
        for k, v in _table(data.get("columns", {}), "columns", origin).items()
    }


_NO_DEFAULT = {
    "participant_ref": "it names a person",
    "source_record_id": "it must be unique within a delivery: map the file's id column with [columns]",
}


def _defaults(data: Mapping[str, object], origin: str) -> dict[str, str]:
    """``[defaults]``: canonical column -> the value it takes where the delivery gives none."""
    defaults = {
        _canonical(k, "defaults", origin): _scalar(v, "defaults", origin)
        for k, v in _table(data.get("defaults", {}), "defaults", origin).items()
    }
    for column, why in _NO_DEFAULT.items():
        if column in defaults:
            raise SourceConfigError(f"{origin}: {column} cannot have a default ({why})")
    return defaults


def _aliases(data: Mapping[str, object], origin: str) -> dict[str, dict[str, str]]:
    """``[aliases.<column>]``: canonical column -> folded delivered value -> the value it stands for."""
    return {
        _canonical(column, "aliases", origin): {
            fold_header(k): _scalar(v, f"aliases.{column}", origin)
            for k, v in _table(mapping, f"aliases.{column}", origin).items()
        }
        for column, mapping in _table(data.get("aliases", {}), "aliases", origin).items()
    }


def parse_source_config(source: str, data: Mapping[str, object], origin: str = "<config>") -> SourceConfig:
    """A source config's parsed TOML checked key by key; a :class:`SourceConfigError` says what is wrong."""
    unknown = set(data) - _TOP_LEVEL_KEYS
    if unknown:
        raise SourceConfigError(f"{origin}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_LEVEL_KEYS)}")
    columns, defaults, aliases = _columns(data, origin), _defaults(data, origin), _aliases(data, origin)
    source_format = _text(data, "format", origin) or "rows"
    if source_format not in FORMATS:
        raise SourceConfigError(f"{origin}: format must be one of {FORMATS}")
    try:
        xapi = parse_xapi_config(data.get("xapi", {}), origin)
    except ValueError as error:
        raise SourceConfigError(str(error)) from None
    date_order = (_text(data, "date_order", origin) or "ISO").upper()
    if date_order not in DATE_ORDERS:
        raise SourceConfigError(f"{origin}: date_order must be one of {DATE_ORDERS}")
    try:
        period, max_share = parse_period(data, origin), parse_max_share(data, origin)
        if period is not None:
            period = fold_header(period)
            check_period(period, columns, defaults, source_format, origin)
    except ValueError as error:
        raise SourceConfigError(str(error)) from None
    return SourceConfig(
        name=source,
        description=_text(data, "description", origin) or "",
        encoding=_encoding(data, origin),
        delimiter=_delimiter(data, origin),
        sheet=_text(data, "sheet", origin),
        date_order=date_order,
        columns=columns,
        defaults=defaults,
        aliases=aliases,
        format=source_format,
        xapi=xapi,
        period=period,
        max_quarantine_share=max_share,
    )


def not_deliveries(sources_dir: Path, source: str) -> dict[str, str]:
    """Files of a source folder that are not deliveries, with the reason: an xAPI source's roster
    (read with its exports). A config that cannot be read names none (its files are rejected anyway)."""
    try:
        config = load_source_config(sources_dir, source)
    except SourceConfigError:
        return {}
    if config.xapi.roster:
        return {config.xapi.roster: "the roster of an xAPI source: read with its exports, not a delivery"}
    return {}
