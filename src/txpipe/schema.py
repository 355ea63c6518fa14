"""The canonical record: landing columns, enumerations and the Arrow schemas of the lake."""

from __future__ import annotations

import pyarrow as pa

# Canonical landing columns, in contract order.
LANDING_COLUMNS: tuple[str, ...] = (
    "source_record_id",
    "programme",
    "activity_code",
    "activity_title",
    "iteration_id",
    "provider",
    "start_date",
    "end_date",
    "delivery_mode",
    "nation",
    "participant_ref",
    "headcount",
    "sex",
    "rank",
    "role",
    "status",
    "score",
)

# A file lacking any of these columns (after the source's renames and defaults) is rejected whole.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "source_record_id",
    "programme",
    "activity_code",
    "start_date",
    "end_date",
    "nation",
    "status",
)

COLUMN_DEFAULTS: dict[str, str] = {"headcount": "1", "sex": "U", "role": "student"}

PROGRAMMES = ("education", "training", "exercise")
DELIVERY_MODES = ("resident", "mobile", "online", "blended", "field")
SEXES = ("F", "M", "X", "U")
ROLES = ("student", "training_audience", "observer", "instructor", "evaluator", "staff")
STATUSES = (
    "nominated",
    "registered",
    "cancelled",
    "no_show",
    "attended",
    "completed",
    "passed",
    "failed",
    "withdrawn",
)
RANKS = (
    tuple(f"OF-{i}" for i in range(1, 11))
    + tuple(f"OR-{i}" for i in range(1, 10))
    + tuple(f"WO-{i}" for i in range(1, 6))
    + ("CIV",)
)

# Enumerated columns and how their values are written once matched case-insensitively.
ENUMS: dict[str, tuple[str, ...]] = {
    "programme": PROGRAMMES,
    "delivery_mode": DELIVERY_MODES,
    "sex": SEXES,
    "rank": RANKS,
    "role": ROLES,
    "status": STATUSES,
}

_TS = pa.timestamp("us", tz="UTC")

PARTICIPATION_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_record_id", pa.string(), nullable=False),
        pa.field("programme", pa.string(), nullable=False),
        pa.field("activity_code", pa.string(), nullable=False),
        pa.field("activity_title", pa.string()),
        pa.field("iteration_id", pa.string()),
        # the iteration as the row came with it (delivered, or the source's default), before its canonical form
        pa.field("iteration_id_delivered", pa.string()),
        pa.field("provider", pa.string()),
        pa.field("start_date", pa.date32(), nullable=False),
        pa.field("end_date", pa.date32(), nullable=False),
        pa.field("delivery_mode", pa.string()),
        pa.field("nation", pa.string(), nullable=False),
        pa.field("participant_pid", pa.string()),
        pa.field("headcount", pa.int32(), nullable=False),
        pa.field("sex", pa.string(), nullable=False),
        pa.field("rank", pa.string()),
        pa.field("role", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("score", pa.float64()),
        pa.field("warnings", pa.list_(pa.string())),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("ingested_at", _TS, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        # JSON object: column -> delivered value, for the columns the failed rules judged.
        pa.field("offending_values", pa.string(), nullable=False),
        # JSON object: the whole canonical row as delivered (participant_ref replaced by its pid).
        pa.field("record", pa.string(), nullable=False),
        pa.field("ingested_at", _TS, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)
