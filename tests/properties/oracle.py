"""An independent oracle of what txpipe does with each delivered row.

Written from the documented rules only (README "Delivering data" / "What happens to each row",
expectations/participation.json, data/reference/*.csv). It shares no code with src/txpipe and
imports only the standard library: it reads the GX suite JSON and the reference CSVs itself and
interprets the handful of expectation types the suite uses, row by row.

Input: the delivered rows, each with its source_row and either its raw cells (a dict canonical
column -> delivered text, None for an absent cell) or the name of the reader issue that stopped it
from becoming a record. Blank lines / blank rows are not given to the oracle (they do not count);
the writer that laid out the file knows which source_row each row takes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE_PATH = REPO / "expectations" / "participation.json"
REFERENCE_DIR = REPO / "data" / "reference"

CANONICAL = [
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
]
REQUIRED_COLUMNS = ["source_record_id", "programme", "activity_code", "start_date", "end_date", "nation", "status"]
ENUM_COLUMNS = ["programme", "delivery_mode", "sex", "rank", "role", "status"]
UPPERCASED = ["activity_code", "iteration_id"]
DEFAULTS = {"headcount": "1", "sex": "U", "role": "student"}
READER_ISSUES = ("csv_field_count", "json_line_malformed", "json_record_not_object")

RECORD = "record"  # kind of a row that is a record (anything else is a reader issue name)


# --------------------------------------------------------------------------------------------
# The suite and the reference data, read independently


@dataclass(frozen=True)
class Rule:
    name: str
    type: str
    severity: str
    kwargs: dict
    depends_on: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        if "column" in self.kwargs:
            return (self.kwargs["column"],)
        if "column_A" in self.kwargs:
            return (self.kwargs["column_A"], self.kwargs["column_B"])
        if "column_list" in self.kwargs:
            return tuple(self.kwargs["column_list"])
        raise AssertionError(f"oracle does not know the columns of {self.type}")

    @property
    def offending_columns(self) -> tuple[str, ...]:
        """The delivered columns behind the rule (participant_pid is judged for participant_ref)."""
        return tuple("participant_ref" if c == "participant_pid" else c for c in self.columns)


def load_suite(path: Path = SUITE_PATH) -> list[Rule]:
    data = json.loads(path.read_text(encoding="utf-8"))
    rules = []
    for exp in data["expectations"]:
        meta = exp.get("meta", {})
        rules.append(
            Rule(
                name=meta["rule"],
                type=exp["type"],
                severity=exp["severity"],
                kwargs=exp["kwargs"],
                depends_on=tuple(meta.get("depends_on", ())),
            )
        )
    return rules


@dataclass(frozen=True)
class Reference:
    nation_codes: frozenset
    nation_names: dict  # lower-case name -> code
    activity_codes: frozenset


def load_reference(directory: Path = REFERENCE_DIR) -> Reference:
    with open(directory / "nations.csv", encoding="utf-8", newline="") as handle:
        nations = list(csv.DictReader(handle))
    with open(directory / "activities.csv", encoding="utf-8", newline="") as handle:
        activities = list(csv.DictReader(handle))
    return Reference(
        nation_codes=frozenset(n["code"] for n in nations),
        nation_names={n["name"].lower(): n["code"] for n in nations},
        activity_codes=frozenset(a["activity_code"] for a in activities),
    )


SUITE = load_suite()
RULES_BY_NAME = {rule.name: rule for rule in SUITE}
REF = load_reference()
SUITE_ORDER = [rule.name for rule in SUITE] + list(READER_ISSUES)
CRITICAL_RULES = [r.name for r in SUITE if r.severity == "critical"]
WARNING_RULES = [r.name for r in SUITE if r.severity == "warning"]


def value_set(rule: Rule, params: dict) -> set:
    vs = rule.kwargs["value_set"]
    if isinstance(vs, dict) and "$PARAMETER" in vs:
        return set(params[vs["$PARAMETER"]])
    return set(vs)


ENUM_SETS = {
    r.kwargs["column"]: list(r.kwargs["value_set"])
    for r in SUITE
    if r.type == "expect_column_values_to_be_in_set" and r.kwargs.get("column") in ENUM_COLUMNS
}


# --------------------------------------------------------------------------------------------
# Values


def trimmed(value) -> str | None:
    """Surrounding spaces trimmed; a blank / whitespace-only cell is missing (None)."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def pseudonym(key: str, source: str, ref: str | None) -> str | None:
    if ref is None:
        return None
    return hmac.new(key.encode("utf-8"), (source + "\x1f" + ref).encode("utf-8"), hashlib.sha256).hexdigest()


def resolve_nation(value: str) -> str:
    if value.upper() in REF.nation_codes:
        return value.upper()
    code = REF.nation_names.get(value.lower())
    return code if code is not None else value


# README "Iteration ids": separators are runs of space / _ . -; a year is two digits or 1900-2099.
ITERATION_SEPARATOR = r"[ /_.\-]+"
ITERATION_YEAR = r"(?:[0-9]{2}|(?:19|20)[0-9]{2})"


def canonical_iteration(code: str | None, text: str | None) -> str | None:
    """The canonical id <code>-<LETTER>-<YY> of a spelling the README's grammar recognises, else None:
    trimmed and upper-cased, [the code (its separators any run)] letter and year in either order."""
    if code is None or text is None:
        return None
    pieces = re.split(ITERATION_SEPARATOR, code)
    if "" in pieces:
        return None
    prefix = ITERATION_SEPARATOR.join(re.escape(p) for p in pieces)
    body = (
        rf"(?P<l1>[A-Z]){ITERATION_SEPARATOR}(?P<y1>{ITERATION_YEAR})"
        rf"|(?P<y2>{ITERATION_YEAR}){ITERATION_SEPARATOR}(?P<l2>[A-Z])"
    )
    match = re.fullmatch(rf"(?:{prefix}{ITERATION_SEPARATOR})?(?:{body})", text.strip().upper())
    if match is None:
        return None
    return f"{code}-{match['l1'] or match['l2']}-{(match['y1'] or match['y2'])[-2:]}"


def normalise(cells: dict, source: str, key: str) -> dict:
    """The canonical values the rules judge (strings / None), plus participant_pid."""
    values = {c: trimmed(cells.get(c)) for c in CANONICAL}
    for column in ENUM_COLUMNS:
        v = values[column]
        if v is not None:
            for canonical in ENUM_SETS[column]:
                if canonical.lower() == v.lower():
                    values[column] = canonical
                    break
    for column in UPPERCASED:
        if values[column] is not None:
            values[column] = values[column].upper()
    values["iteration_id_delivered"] = trimmed(cells.get("iteration_id"))  # as delivered (readers trim)
    values["iteration_id"] = (
        canonical_iteration(values["activity_code"], values["iteration_id"]) or values["iteration_id"]
    )
    if values["nation"] is not None:
        values["nation"] = resolve_nation(values["nation"])
    for column, default in DEFAULTS.items():
        if values[column] is None:
            values[column] = default
    values["participant_pid"] = pseudonym(key, source, values.pop("participant_ref"))
    return values


def duplicate_key(cells: dict) -> tuple:
    """Delivered values (trimmed; participant_ref as delivered) of every canonical column."""
    return tuple(trimmed(cells.get(c)) for c in CANONICAL)


# --------------------------------------------------------------------------------------------
# Rules


def rule_fails(rule: Rule, values: dict, params: dict) -> bool:
    """Does the rule fail on this row? (False when the rule skips the row.)"""
    t, kw = rule.type, rule.kwargs
    if t == "expect_column_values_to_not_be_null":
        cond = kw.get("row_condition")
        if cond is not None:
            m = re.fullmatch(r'\s*(\w+)\s*==\s*"([^"]*)"\s*', cond)
            assert m, f"oracle does not understand row_condition {cond!r}"
            if values[m.group(1)] != m.group(2):
                return False
        return values[kw["column"]] is None
    if t == "expect_column_value_lengths_to_be_between":
        v = values[kw["column"]]
        if v is None:
            return False
        if kw.get("min_value") is not None and len(v) < kw["min_value"]:
            return True
        return kw.get("max_value") is not None and len(v) > kw["max_value"]
    if t == "expect_column_values_to_be_in_set":
        v = values[kw["column"]]
        return v is not None and v not in value_set(rule, params)
    if t == "expect_column_values_to_not_be_in_set":
        v = values[kw["column"]]
        return v is not None and v in value_set(rule, params)
    if t == "expect_column_values_to_match_regex":
        v = values[kw["column"]]
        return v is not None and re.search(kw["regex"], v) is None
    if t == "expect_column_pair_values_b_to_be_an_iteration_of_a":
        a, b = values[kw["column_A"]], values[kw["column_B"]]
        if a is None or b is None:  # ignore_row_if either_value_is_missing
            return False
        return re.fullmatch(re.escape(a) + "-[A-Z]-[0-9]{2}", b) is None  # the row's code, letter, two digits
    if t == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = values[kw["column_A"]], values[kw["column_B"]]
        if a is None or b is None:  # ignore_row_if either_value_is_missing
            return False
        # ISO dates (the only ones left once the date rules it depends on passed) order as text.
        return a < b if kw.get("or_equal") else a <= b
    raise AssertionError(f"oracle does not know expectation type {t}")


def judge(values: dict, params: dict) -> list[str]:
    """Names of every failed rule, in suite order, honouring meta.depends_on."""
    failed: list[str] = []
    for rule in SUITE:
        if any(dep in failed for dep in rule.depends_on):
            continue
        if rule_fails(rule, values, params):
            failed.append(rule.name)
    return failed


# --------------------------------------------------------------------------------------------
# Deliveries


@dataclass
class DeliveredRow:
    source_row: int
    kind: str = RECORD  # RECORD or a reader-issue name
    cells: dict = field(default_factory=dict)  # canonical column -> delivered text / None


@dataclass
class RowFate:
    source_row: int
    fate: str  # "stored" | "quarantined" | "duplicate"
    reasons: list = field(default_factory=list)  # quarantined: failed critical rules (suite order)
    warnings: list = field(default_factory=list)  # stored: failed warning rules (suite order)
    failed: list = field(default_factory=list)  # every failed rule
    stored: dict | None = None  # stored: the participation row the lake must hold
    delivered: dict | None = None  # trimmed delivered values (records only)
    participant_pid: str | None = None
    duplicate_of: int | None = None


@dataclass
class Prediction:
    rows: list  # RowFate, in delivery order
    rows_read: int
    rows_stored: int
    rows_quarantined: int
    rows_duplicate: int
    warnings: dict
    quarantine_reasons: dict

    def by_row(self) -> dict:
        return {r.source_row: r for r in self.rows}


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def stored_values(values: dict, source: str, source_row: int, warnings: list) -> dict:
    return {
        "source": source,
        "source_record_id": values["source_record_id"],
        "programme": values["programme"],
        "activity_code": values["activity_code"],
        "activity_title": values["activity_title"],
        "iteration_id": values["iteration_id"],
        "iteration_id_delivered": values["iteration_id_delivered"],
        "provider": values["provider"],
        "start_date": _date(values["start_date"]),
        "end_date": _date(values["end_date"]),
        "delivery_mode": values["delivery_mode"],
        "nation": values["nation"],
        "participant_pid": values["participant_pid"],
        "headcount": int(values["headcount"]),
        "sex": values["sex"],
        "rank": values["rank"],
        "role": values["role"],
        "status": values["status"],
        "score": None if values["score"] is None else float(values["score"]),
        "warnings": list(warnings) or None,
        "source_row": source_row,
    }


def predict(rows: list[DeliveredRow], source: str, key: str) -> Prediction:
    # 1. exact duplicates collapse onto the first copy
    first_of: dict[tuple, int] = {}
    duplicate_of: dict[int, int] = {}
    for r in rows:
        if r.kind != RECORD:
            continue
        k = duplicate_key(r.cells)
        if k in first_of:
            duplicate_of[r.source_row] = first_of[k]
        else:
            first_of[k] = r.source_row
    # 2. conflicting ids: a non-missing id that occurs with different content (after collapsing)
    contents: dict[str, set] = {}
    for k in first_of:
        rid = k[CANONICAL.index("source_record_id")]
        if rid is not None:
            contents.setdefault(rid, set()).add(k)
    params = {
        "conflicting_ids": sorted(rid for rid, ks in contents.items() if len(ks) > 1),
        "activity_codes": sorted(REF.activity_codes),
        "nation_codes": sorted(REF.nation_codes),
    }
    # 3. judge every kept record
    fates = []
    for r in rows:
        if r.kind != RECORD:
            fates.append(RowFate(r.source_row, "quarantined", reasons=[r.kind], failed=[r.kind]))
            continue
        delivered = {c: trimmed(r.cells.get(c)) for c in CANONICAL}
        values = normalise(r.cells, source, key)
        if r.source_row in duplicate_of:
            fates.append(
                RowFate(
                    r.source_row,
                    "duplicate",
                    delivered=delivered,
                    participant_pid=values["participant_pid"],
                    duplicate_of=duplicate_of[r.source_row],
                )
            )
            continue
        failed = judge(values, params)
        critical = [n for n in failed if RULES_BY_NAME[n].severity == "critical"]
        warnings = [n for n in failed if RULES_BY_NAME[n].severity == "warning"]
        if critical:
            fates.append(
                RowFate(
                    r.source_row,
                    "quarantined",
                    reasons=critical,
                    failed=failed,
                    delivered=delivered,
                    participant_pid=values["participant_pid"],
                )
            )
        else:
            fates.append(
                RowFate(
                    r.source_row,
                    "stored",
                    warnings=warnings,
                    failed=failed,
                    stored=stored_values(values, source, r.source_row, warnings),
                    delivered=delivered,
                    participant_pid=values["participant_pid"],
                )
            )
    warn_counts: dict[str, int] = {}
    reason_counts: dict[str, int] = {}
    for f in fates:
        for n in f.warnings if f.fate == "stored" else []:
            warn_counts[n] = warn_counts.get(n, 0) + 1
        for n in f.reasons if f.fate == "quarantined" else []:
            reason_counts[n] = reason_counts.get(n, 0) + 1
    return Prediction(
        rows=fates,
        rows_read=len(rows),
        rows_stored=sum(f.fate == "stored" for f in fates),
        rows_quarantined=sum(f.fate == "quarantined" for f in fates),
        rows_duplicate=sum(f.fate == "duplicate" for f in fates),
        warnings=warn_counts,
        quarantine_reasons=reason_counts,
    )
