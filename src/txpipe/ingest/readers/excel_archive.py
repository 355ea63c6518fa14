"""The XLSX reader's zip and XML layer: the workbook's archive under the read limits, its parts streamed.

:class:`Archive` checks the zip's central directory before anything is decompressed (the parts'
total uncompressed size against ``xlsx_bytes``, each part's expansion ratio against ``xlsx_ratio``)
and counts the bytes actually decompressed again while reading, so a directory that lies cannot
take more. :func:`parse_part` feeds a part to expat chunk by chunk, as a stream of events (never
a tree), and refuses a DTD. Whatever goes wrong here ends as :class:`UnreadableFile` naming the
part, never as another exception.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from xml.parsers import expat

from txpipe.ingest.readers import UnreadableFile
from txpipe.settings import ReadLimits

# Parts this small are exempt from the ratio limit: they cannot expand to anything that matters.
RATIO_EXEMPT_BYTES = 64 << 10
READ_BYTES = 64 << 10

NOT_A_WORKBOOK = "not a readable XLSX workbook (it may be password-protected, an old .xls, or another kind of file)"
_SAFE_PART = re.compile(r"[A-Za-z0-9_.\[\]/-]{1,120}")

# expat's handlers, as the parts' parsers define them (attributes come as a dict: not ordered_attributes).
StartHandler = Callable[[str, dict[str, str]], None]
EndHandler = Callable[[str], None]
CharsHandler = Callable[[str], None]


def part_name(name: str) -> str:
    """A part's name for a reason: the name when it looks like one, never arbitrary text."""
    return f"'{name}'" if _SAFE_PART.fullmatch(name) else "a part with an unusual name"


class Archive:
    """The workbook's zip, checked before reading and metered while reading."""

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.limits = limits
        self.decompressed = 0
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
            # NotImplementedError: a zip version or feature the zipfile module cannot read
            raise UnreadableFile(f"{NOT_A_WORKBOOK}: {type(error).__name__}") from None
        try:
            self._check_directory(infos)
        except UnreadableFile:
            self.zip.close()
            raise

    def _check_directory(self, infos: list[zipfile.ZipInfo]) -> None:
        limits = self.limits
        total = sum(info.file_size for info in infos)
        if total > limits.xlsx_bytes:
            raise UnreadableFile(
                f"the workbook's parts hold {total:,} bytes uncompressed, more than the limit of "
                f"{limits.xlsx_bytes:,} bytes (TXPIPE_MAX_XLSX_BYTES)"
            )
        for info in infos:
            if info.file_size <= RATIO_EXEMPT_BYTES:
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.xlsx_ratio:
                raise UnreadableFile(
                    f"the workbook's part {part_name(info.filename)} expands {ratio:,.0f} times "
                    f"({info.compress_size:,} bytes to {info.file_size:,}), more than the limit of "
                    f"{limits.xlsx_ratio:,} (TXPIPE_MAX_XLSX_RATIO): it looks like a zip bomb"
                )

    def has(self, name: str) -> bool:
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            return False
        return not info.is_dir()

    def chunks(self, name: str) -> Iterator[bytes]:
        """The part's bytes, decompressed in chunks; the total across the archive is capped."""
        if not self.has(name):
            raise UnreadableFile(f"the workbook's part {part_name(name)} is missing")
        try:
            with self.zip.open(name) as stream:
                while chunk := stream.read(READ_BYTES):
                    self.decompressed += len(chunk)
                    if self.decompressed > self.limits.xlsx_bytes:
                        raise UnreadableFile(
                            f"reading the workbook decompressed more than the limit of "
                            f"{self.limits.xlsx_bytes:,} bytes (TXPIPE_MAX_XLSX_BYTES), more than "
                            "its zip directory declares"
                        )
                    yield chunk
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ) as error:
            # CRC and header mismatches, truncated or corrupt data, unsupported compression,
            # encrypted members: the part cannot be decompressed.
            kind = "a CRC mismatch" if "CRC" in str(error) else type(error).__name__
            raise UnreadableFile(f"the workbook's part {part_name(name)} cannot be decompressed ({kind})") from None

    def close(self) -> None:
        self.zip.close()


def local_name(name: str) -> str:
    """An element or attribute name without its namespace (expat joins them with ``}``)."""
    return name[name.rfind("}") + 1 :]


def local_attributes(attributes: dict[str, str]) -> dict[str, str]:
    return {local_name(k): v for k, v in attributes.items()}


def _no_dtd(*_args: object) -> None:
    raise UnreadableFile("the workbook's XML declares a DTD, which a workbook never does")


def parse_part(
    archive: Archive,
    name: str,
    start: StartHandler,
    end: EndHandler | None = None,
    chars: CharsHandler | None = None,
) -> Generator[None, None, None]:
    """Feed a part to expat chunk by chunk; yields after each chunk so a caller can hand on rows."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if chars is not None:
        parser.CharacterDataHandler = chars
    try:
        for chunk in archive.chunks(name):
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise UnreadableFile(
            f"the workbook's part {part_name(name)} is not well-formed XML "
            f"({expat.ErrorString(error.code)} at line {error.lineno}, column {error.offset})"
        ) from None
    yield


def parse_whole(parsing: Iterator[None]) -> None:
    """Run a :func:`parse_part` to the end, for parts read whole before any row is handed on."""
    for _ in parsing:
        pass
