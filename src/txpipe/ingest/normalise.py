"""Normalise stage: canonical values for a chunk's columns, as Arrow column operations.

Every normalisation rule maps a column's value to its canonical text by that value alone (see
:func:`txpipe.ingest.values.normalize`), so a column is dictionary-encoded, each distinct value not seen
before by this source's normaliser is normalised once (by :func:`txpipe.ingest.values.normalize`, on a
frame of distinct values), and the canonical dictionary is taken back to the rows. No Python object is
made per row. Columns only filled with a default are filled by the workspace (``Workspace._spooled``).
The one rule that reads two columns, the canonical iteration id (:mod:`txpipe.ingest.iterations`), runs
once per distinct pair of canonical activity code and iteration, after the columns are normalised; the
iteration as the row came with it is kept as ``iteration_id_delivered``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from txpipe.ingest.iterations import DELIVERED, canonical_iterations
from txpipe.ingest.readers import STRING
from txpipe.ingest.sources import SourceConfig
from txpipe.ingest.values import CANONICAL_COLUMNS, normalize
from txpipe.reference import Reference
from txpipe.schema import COLUMN_DEFAULTS, ENUMS

# Columns whose values normalisation rewrites (besides filling defaults); aliased columns join them.
REWRITTEN = (*ENUMS, "activity_code", "iteration_id", "start_date", "end_date", "nation", "headcount", "score")
CACHE_LIMIT = 200_000  # distinct values remembered per column (beyond: forgotten; only speed depends on it)


class Normaliser:
    """Canonical values of one source's chunks; remembers what it normalised for the next chunk."""

    def __init__(self, config: SourceConfig, reference: Reference) -> None:
        self.config, self.reference = config, reference
        self.rewritten = [c for c in CANONICAL_COLUMNS if c in REWRITTEN or c in config.aliases]
        self.defaults = {
            c: v
            for c, v in {**COLUMN_DEFAULTS, **config.defaults}.items()
            if c in CANONICAL_COLUMNS and c not in self.rewritten
        }
        self._known: dict[str, dict[str, str | None]] = {c: {} for c in self.rewritten}
        missing = self._normalise({c: [None] for c in self.rewritten})
        self._of_missing = {c: missing[c][0] for c in self.rewritten}  # a missing value's canonical text

    def _normalise(self, values: dict[str, list[str | None]]) -> dict[str, list[str | None]]:
        """Canonical text of the given values of each column (one padded frame, one normalize call)."""
        length = max(len(v) for v in values.values())
        frame = pd.DataFrame(
            {
                c: pd.array(values.get(c, []) + [None] * (length - len(values.get(c, []))), dtype=STRING)
                for c in CANONICAL_COLUMNS
            }
        )
        canonical = normalize(frame, self.config, self.reference)
        return {c: [None if pd.isna(v) else v for v in canonical[c].iloc[: len(values[c])]] for c in values}

    def columns(self, table: pa.Table) -> dict[str, pa.Array]:
        """The canonical values of the chunk's rewritten columns."""
        encoded = {c: pc.dictionary_encode(table[c].combine_chunks()) for c in self.rewritten}
        dictionaries = {c: encoded[c].dictionary.to_pylist() for c in self.rewritten}
        new = {}
        for column, values in dictionaries.items():
            known = self._known[column]
            unseen = [v for v in values if v not in known]
            if len(known) + len(unseen) > CACHE_LIMIT:  # forget, and normalise this chunk's values afresh
                known.clear()
                unseen = values
            if unseen:
                new[column] = unseen
        if new:
            for column, canonical in self._normalise(new).items():
                self._known[column].update(zip(new[column], canonical, strict=True))
        out = {}
        for column in self.rewritten:
            known = self._known[column]
            dictionary = pa.array([known[v] for v in dictionaries[column]], pa.string())
            values = pc.take(dictionary, encoded[column].indices)
            missing = self._of_missing[column]
            if missing is not None:  # a missing value takes the canonical text of the column's default
                values = pc.if_else(pc.is_null(encoded[column].indices), missing, values)
            out[column] = values
        out["iteration_id"] = canonical_iterations(out["activity_code"], out["iteration_id"])
        default = self.config.defaults.get("iteration_id")  # a blank iteration came with the default
        out[DELIVERED] = pc.coalesce(table["iteration_id"], pa.scalar(default, pa.string()))
        return out
