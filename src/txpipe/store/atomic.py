"""Atomic file replacement: write beside the target under a hidden temporary name, make it durable,
rename it into place. Readers see the old file or the new one, never half of one; a run killed
mid-write leaves only a ``.tmp-*`` file, which the next run's recovery removes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

TMP_PREFIX = ".tmp-"


def temporary_path(target: Path) -> Path:
    return target.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{target.name}")


def replace_atomically(target: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to produce the content, fsync it, and rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(target)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_text_atomically(target: Path, text: str) -> Path:
    return replace_atomically(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
