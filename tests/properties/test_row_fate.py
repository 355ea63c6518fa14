"""Every delivered row's fate, compared row by row with the independent oracle.

One test per format: hypothesis draws a delivery (0..40 rows mixing every rule of the suite,
exact and conflicting duplicates, blank and broken lines, free text with delimiters, quotes,
unicode and newlines), a file layout and a chunk size (1..13 rows); the file is ingested into a
fresh TXPIPE_HOME and the lake, the quarantine and the ledger record are compared with the oracle.

And the way a run takes them: 1 to 20 deliveries of every format, in two source folders, ingested
together as one batch (the ingest job batches small files), each compared with the oracle on its own:
what one delivery holds (its duplicates, its conflicting ids) never changes another's fate.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ingest_all, read_parquet_rows
from tests.properties.deliveries import (
    EXTRA_COLUMN,
    Delivery,
    csv_layouts,
    deliveries,
    jsonl_layouts,
    write_csv,
    write_jsonl,
    write_xlsx,
)
from tests.properties.oracle import (
    CANONICAL,
    READER_ISSUES,
    RECORD,
    RULES_BY_NAME,
    Prediction,
    predict,
)
from txpipe.ingest import IngestContext
from txpipe.settings import Settings

SOURCE = "prop"
SOURCES = (SOURCE, "prop-b")
KEY = "property-test-key"
CHUNKS = st.integers(1, 13)


def run(delivery: Delivery, chunk_rows: int, write) -> None:
    run_batch([(SOURCE, delivery, write)], chunk_rows)


def run_batch(deliveries: list[tuple[str, Delivery, object]], chunk_rows: int) -> None:
    """Write every delivery (source folder, delivery, writer), ingest them in one run and compare each
    delivery's record and rows with the oracle's prediction for it alone."""
    with tempfile.TemporaryDirectory(prefix="txpipe-prop-") as tmp:
        tmp = Path(tmp)
        landing = tmp / "landing"
        written = []
        for source, delivery, write in deliveries:
            path, rows = write(landing / source)
            written.append((source, delivery, path, predict(rows, source, KEY)))
        settings = Settings.from_env(
            {
                "TXPIPE_HOME": str(tmp / "home"),
                "TXPIPE_PSEUDONYM_KEY": KEY,
                "TXPIPE_CHUNK_ROWS": str(chunk_rows),
            }
        )
        records = ingest_all(settings, landing, context=_context(settings))
        stored = read_parquet_rows(settings.participation_dir) if settings.participation_dir.exists() else []
        quarantined = read_parquet_rows(settings.quarantine_dir) if settings.quarantine_dir.exists() else []
        for source, delivery, path, expected in written:
            name = path.relative_to(landing / source).as_posix()

            def of(rows: list, source: str = source, name: str = name) -> list:
                return [r for r in rows if (r["source"], r["source_file"]) == (source, name)]

            mine = [r for r in records if (r.source, r.source_file) == (source, name)]
            problems = compare(delivery, expected, mine, of(stored), of(quarantined))
            if problems:
                preview = path.read_bytes()
                raise AssertionError(
                    f"{len(problems)} difference(s) with the oracle (chunk rows {chunk_rows}, file {source}/{name}, "
                    f"one of {len(deliveries)} deliveries):\n"
                    + "\n".join(f"  - {p}" for p in problems)
                    + f"\nfile bytes ({len(preview)}): {preview[:3000]!r}"
                )


_CONTEXTS: list[IngestContext] = []


def _context(settings: Settings) -> IngestContext:
    """One ingest context (suite, reference, pseudonymiser) for every example; only the home changes."""
    if not _CONTEXTS:
        _CONTEXTS.append(IngestContext.create(settings, "property-test"))
    return dataclasses.replace(_CONTEXTS[0], settings=settings)


# --------------------------------------------------------------------------------------------
# Comparison


def _nonzero(counts) -> dict:
    return {k: v for k, v in (counts or {}).items() if v}


def compare(delivery: Delivery, expected: Prediction, records, stored: list, quarantined: list) -> list[str]:
    problems: list[str] = []
    if len(records) != 1:
        return [f"expected one ledger record, got {len(records)}: {records!r}"]
    record = records[0]
    if record.status != "stored" or record.reason is not None:
        problems.append(f"delivery status {record.status!r} reason {record.reason!r} (expected stored, no reason)")

    # Ledger counts and the accounting identity
    for name in ("rows_read", "rows_stored", "rows_quarantined", "rows_duplicate"):
        if getattr(record, name) != getattr(expected, name):
            problems.append(f"ledger {name} = {getattr(record, name)}, oracle {getattr(expected, name)}")
    if record.rows_read != record.rows_stored + record.rows_quarantined + record.rows_duplicate:
        problems.append(
            f"accounting identity broken: {record.rows_read} != {record.rows_stored} + "
            f"{record.rows_quarantined} + {record.rows_duplicate}"
        )
    if _nonzero(record.warnings) != expected.warnings:
        problems.append(f"ledger warnings {_nonzero(record.warnings)} , oracle {expected.warnings}")
    if _nonzero(record.quarantine_reasons) != expected.quarantine_reasons:
        problems.append(
            f"ledger quarantine_reasons {_nonzero(record.quarantine_reasons)} , oracle {expected.quarantine_reasons}"
        )
    if EXTRA_COLUMN in delivery.columns:
        ignored = [str(c).strip().lower() for c in (record.ignored_columns or [])]
        if EXTRA_COLUMN not in ignored:
            problems.append(f"ignored_columns {record.ignored_columns!r} does not name {EXTRA_COLUMN!r}")
    if len(stored) != record.rows_stored:
        problems.append(f"lake holds {len(stored)} rows, ledger rows_stored {record.rows_stored}")
    if len(quarantined) != record.rows_quarantined:
        problems.append(f"quarantine holds {len(quarantined)} rows, ledger rows_quarantined {record.rows_quarantined}")

    # Row by row
    fates = expected.by_row()
    actual_stored: dict[int, dict] = {}
    for row in stored:
        if row["source_row"] in actual_stored:
            problems.append(f"source_row {row['source_row']} stored twice")
        actual_stored[row["source_row"]] = row
    actual_quarantined: dict[int, dict] = {}
    for row in quarantined:
        if row["source_row"] in actual_quarantined:
            problems.append(f"source_row {row['source_row']} quarantined twice")
        actual_quarantined[row["source_row"]] = row
    for source_row in sorted(set(actual_stored) | set(actual_quarantined) | set(fates)):
        fate = fates.get(source_row)
        where = ("stored" if source_row in actual_stored else "") + (
            "quarantined" if source_row in actual_quarantined else ""
        )
        where = where or "duplicate/nowhere"
        if fate is None:
            problems.append(f"row {source_row}: {where} but the oracle knows no such row")
            continue
        want = fate.fate if fate.fate != "duplicate" else "duplicate/nowhere"
        if want != where:
            detail = ""
            if source_row in actual_quarantined:
                detail = f" with reasons {list(actual_quarantined[source_row]['reasons'])}"
            if source_row in actual_stored:
                detail = f" with warnings {actual_stored[source_row]['warnings']}"
            problems.append(
                f"row {source_row}: {where}{detail}, oracle {want} "
                f"(reasons {fate.reasons}, warnings {fate.warnings}"
                + (f", duplicate of row {fate.duplicate_of}" if fate.duplicate_of else "")
                + ")"
            )
            continue
        if fate.fate == "stored":
            problems += compare_stored(source_row, fate, actual_stored[source_row])
        elif fate.fate == "quarantined":
            problems += compare_quarantined(source_row, fate, actual_quarantined[source_row])

    problems += check_privacy(delivery, stored, quarantined)
    return problems


def compare_stored(source_row: int, fate, actual: dict) -> list[str]:
    problems = []
    for column, want in fate.stored.items():
        got = actual.get(column, "<absent>")
        if column == "warnings" and got is not None and got != "<absent>":
            got = list(got)
        if got != want:
            problems.append(f"row {source_row} stored {column} = {got!r}, oracle {want!r}")
    if "participant_ref" in actual:
        problems.append(f"row {source_row}: participation has a participant_ref column")
    return problems


def compare_quarantined(source_row: int, fate, actual: dict) -> list[str]:
    problems = []
    reasons = list(actual["reasons"] or [])
    if reasons != fate.reasons:
        problems.append(f"row {source_row} quarantine reasons {reasons}, oracle {fate.reasons}")
    try:
        offending = json.loads(actual["offending_values"])
        record = json.loads(actual["record"])
    except (TypeError, ValueError) as exc:
        return [*problems, f"row {source_row}: offending_values/record not JSON: {exc}"]
    if fate.reasons and fate.reasons[0] in READER_ISSUES:
        if not isinstance(offending, dict) or "problem" not in offending:
            problems.append(f"row {source_row} reader issue offending_values {offending!r} has no 'problem'")
        if record != {}:
            problems.append(f"row {source_row} reader issue record {record!r}, expected {{}}")
        return problems
    if not isinstance(offending, dict):
        return [*problems, f"row {source_row} offending_values {offending!r} is not an object"]
    # offending_values: for each column the failed (critical) rules judged, the delivered
    # (trimmed) value or null; participant_ref's value is always null.
    judged_critical = {c for n in fate.reasons for c in RULES_BY_NAME[n].offending_columns}
    judged_any = {c for n in fate.failed for c in RULES_BY_NAME[n].offending_columns}
    for column in sorted(judged_critical):
        keys = [column] + (["participant_pid"] if column == "participant_ref" else [])
        present = [k for k in keys if k in offending]
        if not present:
            problems.append(f"row {source_row} offending_values {offending!r} lacks {column!r}")
            continue
        got = offending[present[0]]
        want = None if column == "participant_ref" else fate.delivered[column]
        if got != want:
            problems.append(
                f"row {source_row} offending_values[{present[0]!r}] = {got!r}, delivered (trimmed) {want!r}"
            )
    # README: a nation_unknown row also carries "nation_did_you_mean" (a list of suggestions).
    allowed = judged_any | {"participant_ref", "participant_pid"}
    if "nation_unknown" in fate.reasons:
        allowed.add("nation_did_you_mean")
        hint = offending.get("nation_did_you_mean", [])
        if not (isinstance(hint, list) and all(isinstance(h, str) for h in hint)):
            problems.append(f"row {source_row} nation_did_you_mean {hint!r} is not a list of names")
    extra = set(offending) - allowed
    if extra:
        problems.append(f"row {source_row} offending_values names columns no failed rule judged: {sorted(extra)}")
    # record: delivered values of every canonical column but participant_ref, plus participant_pid
    if "participant_ref" in record:
        problems.append(f"row {source_row} record holds participant_ref")
    if record.get("participant_pid") != fate.participant_pid:
        problems.append(
            f"row {source_row} record participant_pid {record.get('participant_pid')!r}, "
            f"oracle {fate.participant_pid!r}"
        )
    for column in CANONICAL:
        if column == "participant_ref":
            continue
        got = record.get(column)
        got = (str(got).strip() or None) if got is not None else None
        if got != fate.delivered[column]:
            problems.append(
                f"row {source_row} record[{column!r}] = {record.get(column)!r}, "
                f"delivered (trimmed) {fate.delivered[column]!r}"
            )
    return problems


def check_privacy(delivery: Delivery, stored: list, quarantined: list) -> list[str]:
    refs = {
        it.cells["participant_ref"].strip()
        for it in delivery.items
        if it.kind == RECORD and (it.cells.get("participant_ref") or "").strip()
    }
    if not refs:
        return []
    others = [
        str(v)
        for it in delivery.items
        if it.kind == RECORD
        for c, v in it.cells.items()
        if c != "participant_ref" and v
    ]
    # identifiers txpipe makes (pseudonyms, batch and run ids) are hex: a short delivered ref such as
    # "50" can occur inside one by chance, so they are taken out of the texts searched
    made = {
        str(row[c]) for row in stored + quarantined for c in ("participant_pid", "batch_id", "run_id") if row.get(c)
    }
    made |= {str(json.loads(row["record"]).get("participant_pid") or "") for row in quarantined} - {""}
    texts = []
    for row in stored + quarantined:
        for v in row.values():
            if isinstance(v, str):
                for identifier in made:
                    v = v.replace(identifier, "")
                texts.append(v)
    problems = []
    for ref in sorted(refs):
        if any(ref.casefold() in o.casefold() for o in others):
            continue  # the same text was delivered in another column (an enum's value is stored in lower case)
        if any(ref in t for t in texts):
            problems.append(f"participant_ref {ref!r} appears in the output")
    return problems


# --------------------------------------------------------------------------------------------
# One test per format


@given(delivery=deliveries("csv"), layout=csv_layouts(), chunk_rows=CHUNKS)
def test_csv_row_fate(delivery, layout, chunk_rows):
    run(
        delivery,
        chunk_rows,
        lambda folder: (folder / "delivery.csv", write_csv(delivery, folder / "delivery.csv", layout)),
    )


@given(delivery=deliveries("xlsx"), chunk_rows=CHUNKS)
def test_xlsx_row_fate(delivery, chunk_rows):
    run(delivery, chunk_rows, lambda folder: (folder / "delivery.xlsx", write_xlsx(delivery, folder / "delivery.xlsx")))


@given(delivery=deliveries("jsonl"), layout=jsonl_layouts(), chunk_rows=CHUNKS)
def test_jsonl_row_fate(delivery, layout, chunk_rows):
    run(
        delivery,
        chunk_rows,
        lambda folder: (folder / "delivery.jsonl", write_jsonl(delivery, folder / "delivery.jsonl", layout)),
    )


@st.composite
def any_delivery(draw, number: int) -> tuple[str, Delivery, object]:
    """A delivery of any format, in one of two source folders, with its writer."""
    fmt = draw(st.sampled_from(["csv", "xlsx", "jsonl"]))
    delivery = draw(deliveries(fmt))
    source = draw(st.sampled_from(SOURCES))
    path = f"d{number}.{fmt}"
    if fmt == "csv":
        layout = draw(csv_layouts())
        return source, delivery, lambda folder: (folder / path, write_csv(delivery, folder / path, layout))
    if fmt == "jsonl":
        layout = draw(jsonl_layouts())
        return source, delivery, lambda folder: (folder / path, write_jsonl(delivery, folder / path, layout))
    return source, delivery, lambda folder: (folder / path, write_xlsx(delivery, folder / path))


@st.composite
def batches(draw) -> list[tuple[str, Delivery, object]]:
    return [draw(any_delivery(number)) for number in range(draw(st.integers(1, 20)))]


@given(batch=batches(), chunk_rows=CHUNKS)
def test_batch_row_fate(batch, chunk_rows):
    run_batch(batch, chunk_rows)
