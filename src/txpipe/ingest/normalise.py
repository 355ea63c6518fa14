"""Normalise stage: the delivery's canonical values as one table (``canonical``).

Every normalisation rule maps a column's value to its canonical text by that value alone (see
:func:`txpipe.normalize.normalize`), so each distinct value of a column is normalised once for
the whole delivery, by the same code the small-delivery path uses, and the result is joined back
to every row in SQL. Exact duplicates (``duplicates``) are left out here.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from txpipe.ingest.workspace import Workspace, literal, quoted, sql
from txpipe.normalize import CANONICAL_COLUMNS, normalize
from txpipe.readers import STRING
from txpipe.reference import Reference
from txpipe.schema import COLUMN_DEFAULTS, ENUMS
from txpipe.sources import SourceConfig

# Columns whose values normalisation rewrites (besides filling defaults); aliased columns join them.
REWRITTEN = (*ENUMS, "activity_code", "iteration_id", "start_date", "end_date", "nation", "headcount", "score")


def value_maps(ws: Workspace, config: SourceConfig, reference: Reference) -> dict[str, pa.Table]:
    """Per rewritten column: its distinct delivered values and their canonical text (value, canonical)."""
    rewritten = [c for c in CANONICAL_COLUMNS if c in REWRITTEN or c in config.aliases]
    distinct = {c: ws.con.sql(f"SELECT DISTINCT {quoted(c)} AS v FROM delivered").to_arrow_table()["v"].combine_chunks()
                for c in rewritten}
    length = max((len(values) for values in distinct.values()), default=0)
    if length == 0:
        return {}
    # One frame holding every column's distinct values (padded with missing values), normalised at once.
    padded = {c: pd.array(distinct[c].to_pylist() + [None] * (length - len(distinct[c])), dtype=STRING)
              if c in distinct else pd.array([None] * length, dtype=STRING) for c in CANONICAL_COLUMNS}
    canonical = normalize(pd.DataFrame(padded), config, reference)
    return {c: pa.table({"value": distinct[c],
                         "canonical": pa.array(canonical[c].iloc[:len(distinct[c])], pa.string(), from_pandas=True)})
            for c in rewritten}


def build_canonical(ws: Workspace, config: SourceConfig, reference: Reference) -> None:
    """Create ``canonical``: source_row and every canonical column, exact duplicates left out."""
    maps = value_maps(ws, config, reference)
    defaults = {**COLUMN_DEFAULTS, **config.defaults}
    selects, joins = [], []
    for number, column in enumerate(CANONICAL_COLUMNS):
        if column in maps:
            name = f"map_{number}"
            ws.con.register(name, maps[column])
            joins.append(f"LEFT JOIN {name} ON d.{quoted(column)} IS NOT DISTINCT FROM {name}.value")
            selects.append(f"{name}.canonical AS {quoted(column)}")
        elif column in defaults:
            selects.append(f"coalesce(d.{quoted(column)}, {literal(defaults[column])}) AS {quoted(column)}")
        else:
            selects.append(f"d.{quoted(column)}")
    ws.con.execute(sql("canonical", columns=",\n       ".join(selects), joins="\n".join(joins)))
    for number, column in enumerate(CANONICAL_COLUMNS):
        if column in maps:
            ws.con.unregister(f"map_{number}")
