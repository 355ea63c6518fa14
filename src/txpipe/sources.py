"""Per-source configuration: how a delivering source's files map onto the canonical columns.

One TOML file per source, ``data/sources/<source>.toml`` (the folder can be moved with
``TXPIPE_SOURCES_DIR``). A source with no file delivers the canonical columns as they are.
Adding a source needs no code: create its landing folder and, if its columns differ, its
config. See README "Adding a source" for the keys.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from txpipe.readers import ReadOptions
from txpipe.settings import CHUNK_ROWS, ReadLimits
from txpipe.schema import LANDING_COLUMNS

DATE_ORDERS = ("ISO", "DMY", "MDY")
_TOP_LEVEL_KEYS = {"description", "encoding", "delimiter", "sheet", "date_order", "columns", "defaults", "aliases"}
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SourceConfigError(ValueError):
    """A source config that cannot be used; the run stops for that source and says why."""


def fold_header(name: str) -> str:
    """Header names match case-insensitively with surrounding and repeated spaces ignored."""
    return " ".join(str(name).split()).casefold()


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

    def canonical_name(self, header: str) -> str | None:
        """The canonical column a delivered header stands for, or None if it is not kept."""
        folded = fold_header(header)
        if folded in self.columns:
            return self.columns[folded]
        return folded if folded in LANDING_COLUMNS else None

    def is_known_header(self, header: str) -> bool:
        return self.canonical_name(header) is not None

    def read_options(self, chunk_rows: int = CHUNK_ROWS, limits: ReadLimits | None = None) -> ReadOptions:
        return ReadOptions(
            chunk_rows=chunk_rows,
            limits=limits or ReadLimits(),
            encoding=self.encoding,
            delimiter=self.delimiter,
            sheet=self.sheet,
            is_known_header=self.is_known_header,
        )


def load_source_config(sources_dir: Path, source: str) -> SourceConfig:
    """Read ``<sources_dir>/<source>.toml``; a missing file means canonical columns."""
    if not _SOURCE_NAME.match(source):
        raise SourceConfigError(
            f"source folder name '{source}' must be lower-case letters, digits, '-' or '_'"
        )
    path = sources_dir / f"{source}.toml"
    if not path.exists():
        return SourceConfig(name=source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SourceConfigError(f"{path}: not valid TOML ({error})") from None
    return parse_source_config(source, data, origin=str(path))


def parse_source_config(source: str, data: dict, origin: str = "<config>") -> SourceConfig:
    unknown = set(data) - _TOP_LEVEL_KEYS
    if unknown:
        raise SourceConfigError(f"{origin}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_LEVEL_KEYS)}")

    def check_target(column: str, where: str) -> str:
        if column not in LANDING_COLUMNS:
            raise SourceConfigError(f"{origin}: [{where}] names '{column}', which is not a canonical column")
        return column

    columns = {fold_header(k): check_target(v, "columns") for k, v in data.get("columns", {}).items()}
    defaults = {check_target(k, "defaults"): str(v) for k, v in data.get("defaults", {}).items()}
    if "participant_ref" in defaults:
        raise SourceConfigError(f"{origin}: participant_ref cannot have a default")
    aliases = {
        check_target(column, "aliases"): {fold_header(k): str(v) for k, v in mapping.items()}
        for column, mapping in data.get("aliases", {}).items()
    }
    date_order = str(data.get("date_order", "ISO")).upper()
    if date_order not in DATE_ORDERS:
        raise SourceConfigError(f"{origin}: date_order must be one of {DATE_ORDERS}, not '{date_order}'")
    return SourceConfig(
        name=source,
        description=str(data.get("description", "")),
        encoding=data.get("encoding"),
        delimiter=data.get("delimiter"),
        sheet=data.get("sheet"),
        date_order=date_order,
        columns=columns,
        defaults=defaults,
        aliases=aliases,
    )
