"""One delivery, end to end: read -> normalise -> collapse duplicates -> validate -> store.

``discover`` lists the files under the landing root that the ledger has not seen (new, or
re-delivered with new content). ``ingest_delivery`` turns one file into lake files and
returns its :class:`DeliveryRecord`; committing that record to the ledger is the caller's
job, done from one place so that concurrent deliveries never race on the ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from txpipe import lake
from txpipe.ledger import DeliveryRecord, Ledger
from txpipe.normalize import (
    REPORTABLE_COLUMNS,
    delivered_values,
    normalize,
    plan_columns,
)
from txpipe.pseudonym import Pseudonymizer
from txpipe.readers import RowIssue, UnreadableFile, read_delivery
from txpipe.reference import Reference, load_reference
from txpipe.settings import Settings
from txpipe.sources import SourceConfigError, load_source_config
from txpipe.validate import RowSuite, load_suite, validate


@dataclass(frozen=True)
class Delivery:
    source: str
    path: Path
    source_file: str  # path inside the source folder, POSIX style
    sha256: str

    @property
    def batch_id(self) -> str:
        """Content hash of the delivery: the same bytes under the same name give the same id."""
        key = f"{self.source}\x1f{self.source_file}\x1f{self.sha256}".encode("utf-8")
        return hashlib.sha256(key).hexdigest()[:24]


@dataclass(frozen=True)
class IngestContext:
    settings: Settings
    reference: Reference
    suite: RowSuite
    pseudonymizer: Pseudonymizer
    run_id: str

    @classmethod
    def create(cls, settings: Settings, run_id: str) -> "IngestContext":
        return cls(
            settings=settings,
            reference=load_reference(settings.reference_dir),
            suite=load_suite(settings.expectations_dir),
            pseudonymizer=Pseudonymizer(settings.pseudonym_key),
            run_id=run_id,
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stray_files(landing: Path) -> list[str]:
    """Files directly under the landing root: not in a source folder, so never ingested."""
    if not landing.is_dir():
        return []
    return sorted(p.name for p in landing.iterdir() if p.is_file() and not p.name.startswith("."))


def discover(landing: Path, ledger: Ledger, sources: list[str] | None = None) -> list[Delivery]:
    """Files under ``landing/<source>/`` whose current content the ledger has not recorded.

    Every file in a source folder counts, hidden ones included, so that nothing delivered goes
    unaccounted; a file txpipe cannot read is rejected with the reason.
    """
    if not landing.is_dir():
        return []
    current = ledger.current()
    found = []
    for source_dir in sorted(p for p in landing.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sources and source_dir.name not in sources:
            continue
        for path in sorted(source_dir.rglob("*")):
            relative = path.relative_to(source_dir)
            if not path.is_file():
                continue
            delivery = Delivery(source_dir.name, path, relative.as_posix(), file_sha256(path))
            known = current.get((delivery.source, delivery.source_file))
            if known is None or known.sha256 != delivery.sha256:
                found.append(delivery)
    return found


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def ingest_delivery(delivery: Delivery, ctx: IngestContext) -> DeliveryRecord:
    """Store one delivered file in the lake; a file that cannot be read is rejected whole."""
    received = now_utc()
    record = DeliveryRecord(
        batch_id=delivery.batch_id,
        source=delivery.source,
        source_file=delivery.source_file,
        sha256=delivery.sha256,
        received_at=received.isoformat(timespec="microseconds"),
        status="stored",
        run_id=ctx.run_id,
    )
    try:
        config = load_source_config(ctx.settings.sources_dir, delivery.source)
        delivered = read_delivery(delivery.path, config.read_options())
        plan = plan_columns(delivered.headers, config)
        batches = list(delivered.batches)
    except (UnreadableFile, SourceConfigError) as error:
        record.status, record.reason = "rejected", str(error)
        return record

    frames = [b.frame for b in batches] or [pd.DataFrame(columns=delivered.headers, dtype="string")]
    frame = pd.concat(frames)
    issues = [issue for b in batches for issue in b.issues]
    record.ignored_columns = list(plan.ignored)
    record.rows_read = len(frame) + len(issues)

    raw = delivered_values(frame, plan)
    canonical = normalize(raw, config, ctx.reference, ctx.pseudonymizer)
    raw = raw.drop(columns=["participant_ref"])  # the raw ref goes no further than normalise

    duplicate = canonical.duplicated(keep="first").to_numpy()
    record.rows_duplicate = int(duplicate.sum())
    canonical, raw = canonical[~duplicate], raw[~duplicate]

    verdict = validate(
        canonical,
        ctx.suite,
        {"nation_codes": list(ctx.reference.nation_codes), "activity_codes": list(ctx.reference.activity_codes)},
    )
    bad = verdict.quarantined_mask()
    reasons = verdict.reasons("critical")
    warnings = verdict.reasons("warning")

    rules = {r.name: r for r in ctx.suite.rules}
    quarantine_rows = _quarantine_rows(
        canonical[bad], raw[bad], [reasons[i] for i in bad.nonzero()[0]], rules, issues
    )
    good = canonical[~bad]
    participation = _participation_table(
        good, [warnings[i] for i in (~bad).nonzero()[0]], delivery, ctx.run_id, received
    )
    quarantine = _quarantine_table(quarantine_rows, delivery, ctx.run_id, received)

    files = lake.write_participation(participation, ctx.settings.lake, delivery.batch_id)
    files += lake.write_quarantine(quarantine, ctx.settings.lake, delivery.source, delivery.batch_id)
    record.files = [p.relative_to(ctx.settings.lake).as_posix() for p in files]
    record.rows_stored = participation.num_rows
    record.rows_quarantined = quarantine.num_rows
    record.warnings = _count(warnings)
    record.quarantine_reasons = _count([row["reasons"] for row in quarantine_rows])
    if not record.balanced:  # a bug, never a data problem: stop before the ledger says stored
        raise AssertionError(f"row accounting does not balance for {delivery.source}/{delivery.source_file}")
    return record


def _count(lists: list[list[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for names in lists:
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _json(values: dict) -> str:
    return json.dumps({k: (None if pd.isna(v) else v) for k, v in values.items()}, ensure_ascii=False, sort_keys=True)


def _quarantine_rows(canonical, raw, reasons, rules, issues: list[RowIssue]) -> list[dict]:
    rows = []
    raw_records = raw.to_dict("records")
    pids = canonical["participant_pid"].tolist()
    for source_row, row_reasons, delivered, pid in zip(canonical.index, reasons, raw_records, pids):
        columns = [c for name in row_reasons for c in rules[name].columns]
        offending = {c: (None if c == "participant_ref" else delivered.get(c)) for c in dict.fromkeys(columns)}
        rows.append(
            {
                "source_row": int(source_row),
                "reasons": row_reasons,
                "offending_values": _json(offending),
                "record": _json({**{c: delivered[c] for c in REPORTABLE_COLUMNS}, "participant_pid": pid}),
            }
        )
    for issue in issues:
        rows.append(
            {
                "source_row": issue.source_row,
                "reasons": [issue.rule],
                "offending_values": _json({"problem": issue.message}),
                "record": "{}",
            }
        )
    return sorted(rows, key=lambda r: r["source_row"])


def _quarantine_table(rows: list[dict], delivery: Delivery, run_id: str, received: dt.datetime) -> pa.Table:
    n = len(rows)
    return pa.table(
        {
            "batch_id": [delivery.batch_id] * n,
            "source": [delivery.source] * n,
            "source_file": [delivery.source_file] * n,
            "source_row": [r["source_row"] for r in rows],
            "reasons": [r["reasons"] for r in rows],
            "offending_values": [r["offending_values"] for r in rows],
            "record": [r["record"] for r in rows],
            "ingested_at": pa.array([received] * n, pa.timestamp("us", tz="UTC")),
            "run_id": [run_id] * n,
        }
    )


def record_key(source: str, source_record_id: str) -> str:
    return hashlib.sha256(f"{source}\x1f{source_record_id}".encode("utf-8")).hexdigest()[:32]


def _participation_table(
    good: pd.DataFrame, warnings: list[list[str]], delivery: Delivery, run_id: str, received: dt.datetime
) -> pa.Table:
    n = len(good)
    table = {
        "record_key": [record_key(delivery.source, rid) for rid in good["source_record_id"]],
        "source": [delivery.source] * n,
    }
    for column in good.columns:
        series = good[column]
        if column in ("start_date", "end_date"):
            table[column] = pa.array(pd.to_datetime(series, format="%Y-%m-%d").dt.date, pa.date32())
        elif column == "headcount":
            table[column] = pa.array(series.astype("int64"), pa.int32())
        elif column == "score":
            table[column] = pa.array(pd.to_numeric(series), pa.float64())
        else:
            table[column] = pa.array(series.astype(object).where(series.notna(), None), pa.string())
    table["warnings"] = pa.array([w or None for w in warnings], pa.list_(pa.string()))
    table["batch_id"] = [delivery.batch_id] * n
    table["source_file"] = [delivery.source_file] * n
    table["source_row"] = pa.array(good.index.to_numpy(), pa.int64())
    table["ingested_at"] = pa.array([received] * n, pa.timestamp("us", tz="UTC"))
    table["run_id"] = [run_id] * n
    return pa.table(table)
