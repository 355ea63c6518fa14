"""Synthetic deliveries: realistic, seeded and deterministic, with a chosen share of defects.

Four sources, each in the shape its programme office really exports:

- ``nso``  NATO School course rosters: XLSX with a banner and CSV (';', BOM, CRLF, day-first
  dates), own column names mapped by ``data/sources/nso.toml``;
- ``jftc`` training-centre events: JSON arrays with the canonical columns;
- ``mtep`` exercise contingents (headcount > 1): JSON Lines mapped by ``data/sources/mtep.toml``;
- ``jadl`` e-learning completions: plain comma CSV with the canonical columns.

The content looks like the world, not like our reference: about one activity code in ten is
NATO-style but not in the catalogue (the catalogue is never complete), iteration ids come in the
shapes offices really write ("N5-35-B-24", "N5-35/B/2024", "B-24"), nations are written as public
lists write them (ISO and UN names with their "(the)" forms, World Bank's "Korea, Rep.", CLDR's
English and French names, alpha-2 and alpha-3 codes), and every file mixes defects.

Every planted defect and warning is recorded (file, source_row, defect, the rule expected to catch
it, and its severity) in ``<out>/.txpipe-generate.json``, a hidden file that discovery does not pick
up. Synthetic people only: names and e-mails are made up and are dropped at ingest anyway.
"""

from __future__ import annotations

import random
from itertools import islice
from pathlib import Path

from txpipe.reference import Reference
from txpipe.samples.roster_manifest import MANIFEST, Manifest, Planted, load_manifest, save_manifest
from txpipe.samples.roster_records import Generator
from txpipe.samples.roster_vocab import (
    CANONICAL_HEADERS,
    DEFECTS,
    MTEP_KEYS,
    NOT_IN_CATALOGUE_SHARE,
    NSO_HEADERS,
    NSO_RESULT,
    OTHER_ITERATION_SHAPE_SHARE,
    PARTNER_WEIGHT,
    RANK_POOL,
    SHARE,
    SOURCES,
    STATUS_WEIGHTS,
    UNCATALOGUED,
    UNKNOWN_NATIONS,
    UNKNOWN_STATUSES,
    WARNINGS,
    Record,
)
from txpipe.samples.roster_writers import FILE_PLAN, SUFFIX, Writer

# The names this module has always offered; they now live in the roster_* modules beside it.
__all__ = [
    "CANONICAL_HEADERS",
    "DEFECTS",
    "FILE_PLAN",
    "MANIFEST",
    "MTEP_KEYS",
    "NOT_IN_CATALOGUE_SHARE",
    "NSO_HEADERS",
    "NSO_RESULT",
    "OTHER_ITERATION_SHAPE_SHARE",
    "PARTNER_WEIGHT",
    "RANK_POOL",
    "SHARE",
    "SOURCES",
    "STATUS_WEIGHTS",
    "SUFFIX",
    "UNCATALOGUED",
    "UNKNOWN_NATIONS",
    "UNKNOWN_STATUSES",
    "WARNINGS",
    "Generator",
    "Manifest",
    "Planted",
    "generate",
    "load_manifest",
]


def generate(
    out: Path,
    reference: Reference,
    rows: int,
    seed: int = 2026,
    defect_rate: float = 0.0,
    sources: tuple[str, ...] = SOURCES,
    files_per_source: int = 2,
) -> Manifest:
    """Write deliveries under ``out/<source>/`` and the manifest of planted defects."""
    g = Generator(reference, seed, defect_rate)
    manifest = Manifest(seed=seed, rows=rows, defect_rate=defect_rate)
    share_total = sum(SHARE[s] for s in sources)
    for source in sources:
        rng = random.Random(f"{seed}:{source}")
        count = max(1, round(rows * SHARE[source] / share_total))
        formats = FILE_PLAN[source]
        n_files = max(1, min(files_per_source, count))
        records = g.records(source, rng, count)
        for index in range(n_files):
            fmt = formats[index % len(formats)]
            name = f"{source}_{index + 1:02d}{SUFFIX[fmt]}"
            writer = Writer(out / source / name, fmt, source, rng)
            share = count // n_files + (1 if index < count % n_files else 0)
            for clean in islice(records, share):
                _deliver(g, rng, clean, writer, manifest, name)
            writer.close()
            manifest.files[f"{source}/{name}"] = writer.rows
    save_manifest(out, manifest)
    return manifest


def _deliver(g: Generator, rng: random.Random, clean: Record, writer: Writer, manifest: Manifest, name: str) -> None:
    """Dress one clean record, maybe damage it, write its rows to ``name`` and list what was planted."""
    source = writer.source
    record, warnings = g.dress(rng, clean)
    defect, rows_out = g.plant(rng, record, source, jsonl=writer.fmt == "jsonl")
    at = [writer.write(row) for row in rows_out]
    if defect in (None, "exact_duplicate"):  # the row (or its first copy) is stored with its warnings
        for warning in warnings:
            manifest.planted.append(Planted(source, name, at[0], warning, WARNINGS[warning], "warning"))
    if defect is None:
        return
    if defect == "exact_duplicate":
        at = at[1:]  # the second copy is the one that collapses
    for source_row in at:
        manifest.planted.append(Planted(source, name, source_row, defect, DEFECTS[defect]))
