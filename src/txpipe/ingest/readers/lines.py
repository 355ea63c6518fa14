"""Physical accounting of a text delivery: its lines (or a JSON array's elements) counted from the bytes,
not from what a parser says.

A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (as Python's and Arrow's CSV parsers see them); a last
line without an ending still counts. A blank line holds only spaces and tabs. The scan also checks the
encoding, so that a file that is not what it claims is rejected with the line of the first bad byte.

What a reader attributes (:class:`PhysicalCounts`: the header, blanks, the lines of its rows) must add up
to the lines scanned here; a reader that misreads (a quote never closed swallows the rest of the file)
shows as lines it cannot account for, and the file is rejected instead of losing rows silently.
:func:`count_elements` counts a JSON array's top-level elements the same way, without parsing it.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from txpipe.ingest.readers import UnreadableFile

_SCAN_BYTES = 1 << 20
_BLANK_LINE = re.compile(r"^[ \t]*\n", re.MULTILINE)  # on text whose line endings are made \n
_BLANK_INSIDE = re.compile(r"\n[ \t]*\n")  # a quick test for any blank line after the first
_EMPTY_ARRAY = re.compile(r"[ \t\n\r]*\[[ \t\n\r]*\]")
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'"[]{},'))  # the bytes count_elements drops at once
_NOT_ESCAPED = bytes(set(range(256)) - set(b'"[]{},\\/bfnrtu'))  # ... and those first, when there are escapes
_DEPTH_STEP = np.zeros(256, np.int8)
_DEPTH_STEP[list(b"[{")], _DEPTH_STEP[list(b"]}")] = 1, -1
_ELEMENT_SLICE = 1 << 22


@dataclass
class PhysicalCounts:
    """What a delivery's bytes hold, and how the reader attributed it (README "What happens to each row").

    ``unit`` is what is counted: ``lines`` (CSV, JSON Lines), ``elements`` (a JSON array), ``sheet_rows``
    (XLSX). ``read`` = ``header`` + ``blank`` + ``rows``, where ``rows`` are the units of the records handed
    on (stored, quarantined or duplicate), of which there are ``records`` (= the ledger's rows_read)."""

    unit: str
    read: int = 0
    header: int = 0
    blank: int = 0
    rows: int = 0
    records: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.header + self.blank + self.rows


@dataclass
class LineScan:
    codec: str  # the codec to read the text with
    lines: int = 0  # physical lines
    blank: int = 0  # of which blank (spaces and tabs only)
    terminated: bool = True  # the last line has its line ending (or the file is empty)
    quoted: bool = False  # the text holds a double quote


class _LineCounter:
    """Counts lines and blank lines of text fed in pieces, holding no more than one piece."""

    def __init__(self) -> None:
        self.lines = self.blank = 0
        self._cr = False  # the last piece ended with \r (its \n may start the next)
        self._open = False  # a line is started and not ended
        self._open_blank = True  # ... and holds only spaces and tabs so far
        self.quoted = False  # a double quote was seen

    def feed(self, text: str) -> None:
        self.quoted = self.quoted or '"' in text
        if self._cr or "\r" in text:
            text = ("\r" if self._cr else "") + text
            self._cr = text.endswith("\r")
            text = (text[:-1] if self._cr else text).replace("\r\n", "\n").replace("\r", "\n")
        first = text.find("\n")
        if first < 0:
            self._extend(text)
            return
        self._extend(text[:first])
        self._end_line()
        last = text.rfind("\n")
        body = text[first + 1 : last + 1]
        self.lines += body.count("\n")
        if body.startswith(("\n", " ", "\t")) or _BLANK_INSIDE.search(body):
            self.blank += sum(1 for _ in _BLANK_LINE.finditer(body))
        self._extend(text[last + 1 :])

    def _extend(self, piece: str) -> None:
        if piece:
            self._open_blank = self._open_blank and not piece.strip(" \t")
            self._open = True

    def _end_line(self) -> None:
        self.lines += 1
        self.blank += self._open_blank
        self._open, self._open_blank = False, True

    def close(self) -> bool:
        """Count the last line; True if it had its line ending."""
        if self._cr:
            self._cr = False
            self._end_line()
            return True
        if self._open:
            self._end_line()
            return False
        return True


def scan_text(path: Path, encoding: str | None) -> LineScan:
    """Check the file's text and count its lines; reject it with the reason if it is not text.

    Without a declared encoding the file must be UTF-8 (a BOM is allowed); the message names the line
    of the first bad byte."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not encoding:
        raise UnreadableFile(
            'the file is UTF-16 encoded; deliver UTF-8 or declare `encoding = "utf-16"` in the source config'
        )
    if b"\x00" in head and not (encoding and "16" in encoding) and _looks_binary(head):
        line = head.count(b"\n", 0, head.index(b"\x00")) + 1
        raise UnreadableFile(f"the file is not text (a binary NUL byte on line {line})")
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as error:
            raise UnreadableFile(f"the source config names an unknown encoding '{encoding}'") from error
    return _scan(path, encoding or "utf-8-sig", declared=encoding is not None)


_CONTROL = re.compile(rb"[\x01-\x08\x0b\x0e-\x1f]")


def _looks_binary(head: bytes) -> bool:
    """A head holding NUL bytes is binary (or UTF-16 without its BOM) when one is on the first line, when
    there are 8 or more, or when other control bytes come with them; a stray NUL in a row of text is not:
    it quarantines that row (nul_character)."""
    first_line = re.split(rb"\r\n|\n|\r", head, maxsplit=1)[0]
    return b"\x00" in first_line or head.count(b"\x00") >= 8 or _CONTROL.search(head) is not None


def _scan(path: Path, codec: str, declared: bool) -> LineScan:
    decoder = codecs.getincrementaldecoder(codec)()
    counter = _LineCounter()
    with open(path, "rb") as handle:
        while chunk := handle.read(_SCAN_BYTES):
            try:
                counter.feed(decoder.decode(chunk))
            except UnicodeDecodeError as error:
                raise _not_text(codec, declared, counter, error) from None
        try:
            counter.feed(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            counter.feed("\ufffd")  # the cut character's place: its line
            counter.close()
            raise UnreadableFile(
                f"the file is not valid {_name(codec)} (it ends inside a character, on line {counter.lines})"
            ) from None
    terminated = counter.close()
    return LineScan(codec, counter.lines, counter.blank, terminated, counter.quoted)


def _name(codec: str) -> str:
    return "UTF-8" if codec == "utf-8-sig" else codecs.lookup(codec).name


def _not_text(codec: str, declared: bool, counter: _LineCounter, error: UnicodeDecodeError) -> UnreadableFile:
    """The rejection naming the first bad byte and its line: the text before it (the bytes the decoder
    held, which a BOM no longer starts) is counted as the scan counts lines."""
    counter.feed(error.object[: error.start].decode(codec, errors="replace") + "\ufffd")  # the bad byte's place
    counter.close()
    line, byte = counter.lines, error.object[error.start]
    if declared:
        return UnreadableFile(
            f"the file is not valid {_name(codec)}, the encoding its source config declares (first bad byte "
            f"0x{byte:02x} on line {line})"
        )
    return UnreadableFile(
        f"the file is not valid UTF-8 (first bad byte 0x{byte:02x} on line {line}); deliver UTF-8 or declare "
        'the encoding (e.g. `encoding = "latin-1"`) in the source config'
    )


def count_elements(text: str) -> int:
    """The top-level elements of a JSON array (``text``, valid JSON), counted without parsing it: the
    commas between them (outside strings, at depth 1), plus one unless the array is empty.

    Escaped backslashes and quotes are dropped, then every byte but quotes, brackets and commas, then
    empty strings; the rest (a few bytes an element) is walked in slices by numpy: the quotes' parity
    says what is inside a string, the brackets' running sum the depth. (Where there are escapes, the
    bytes no escape's second byte can be are dropped first: every backslash still has its own second
    byte next to it, so the escapes pair as in the text, and there is less to scan.)"""
    if _EMPTY_ARRAY.match(text):
        return 0
    raw = text.encode("utf-8", "surrogatepass")  # no byte of a multi-byte character is ASCII
    if b"\\" in raw:  # in valid JSON a backslash escapes the next byte: pairs first, then quotes
        raw = raw.translate(None, _NOT_ESCAPED).replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(raw.translate(None, _NOT_STRUCTURE).replace(b'""', b""), np.uint8)
    del raw
    commas = depth = inside = 0
    for start in range(0, len(codes), _ELEMENT_SLICE):
        part = codes[start : start + _ELEMENT_SLICE]
        step, comma = _DEPTH_STEP[part], part == 44
        quote = part == 34
        if inside or quote.any():  # strings left hold brackets or commas: theirs do not count
            parity = np.bitwise_xor.accumulate(quote.view(np.uint8)) ^ inside
            inside = int(parity[-1])
            step[parity == 1] = 0
            comma &= parity == 0
        level = np.cumsum(step, dtype=np.int64) + depth
        depth = int(level[-1])
        commas += int(np.count_nonzero(level[comma] == 1))
    return commas + 1


def unaccounted(counts: PhysicalCounts) -> UnreadableFile:
    """The rejection of a file whose units the reader could not all attribute (a misread, never kept)."""
    return UnreadableFile(
        f"the file's {counts.read:,} {counts.unit.replace('_', ' ')} could not all be accounted for "
        f"(header {counts.header:,}, blank {counts.blank:,}, in records {counts.rows:,}): it is not read, "
        "so that no row is lost silently"
    )


class TerminatedFile(io.RawIOBase):
    """A file's bytes with a line ending added at the end (the file's last line has none), so that a
    quoted field left open at the end of the file swallows that ending and shows in the accounting."""

    def __init__(self, path: Path, ending: bytes = b"\n") -> None:
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._ending = ending

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)
        if count or not self._ending:
            return count or 0
        size = len(self._ending)
        buffer[:size], self._ending = self._ending, b""
        return size

    def close(self) -> None:
        self._file.close()
        super().close()
