"""The canonical OMS export format: its files and fields, the mapping file that adapts a real
export to it, and reading rows (CSV or JSONL) with every problem named by file, row and column.

Used by `evals.importer`; the format is documented in docs/importing-history.md.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.inputs import InputError, describe

KINDS = ("orders", "exceptions", "actions", "outcomes")

# The canonical field names (what the columns are called unless the mapping renames them).
FIELDS: dict[str, tuple[str, ...]] = {
    "orders": (
        "order_id",
        "sku",
        "qty",
        "unit_price",
        "channel",
        "customer_tier",
        "created_at",
        "promised_by",
        "ship_lat",
        "ship_lon",
        "ship_region",
        "postal_code",
        "node",
        "carrier_service",
        "status",
    ),
    "exceptions": (
        "exception_id",
        "type",
        "occurred_at",
        "order_ids",
        "node",
        "carrier",
        "region",
        "sku",
        "source",
        "text",
        "details",
    ),
    "actions": (
        "exception_id",
        "order_id",
        "action_type",
        "node",
        "carrier_service",
        "cost",
        "decided_by",
        "decided_at",
    ),
    "outcomes": ("order_id", "exception_id", "outcome", "days_late", "delivered_at"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "orders": (
        "order_id",
        "sku",
        "qty",
        "unit_price",
        "created_at",
        "promised_by",
        "ship_lat",
        "ship_lon",
        "ship_region",
    ),
    "exceptions": ("exception_id", "type", "occurred_at"),
    "actions": ("exception_id", "action_type"),
    "outcomes": ("order_id", "outcome"),
}
ACTION_TYPES = (
    "reallocate",
    "split",
    "book_carrier",
    "upgrade_service",
    "repromise",
    "backorder",
    "cancel_lines",
    "transfer_inventory",
    "notify_customer",
    "hold",
    "escalate",  # a person took it elsewhere / nothing in the OMS
)
OUTCOMES = ("on_time", "late", "cancelled")
BAD_OUTCOMES = frozenset({"late", "cancelled"})


class Mapping(BaseModel):
    """How an export differs from the canonical format. Everything is optional."""

    model_config = ConfigDict(extra="forbid")

    files: dict[str, str] = Field(default_factory=dict)  # kind -> file name in the folder
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)  # kind -> field -> column
    values: dict[str, dict[str, str]] = Field(default_factory=dict)  # field -> raw -> canonical
    timezone: str = "UTC"  # applied to timestamps without an offset
    order_separator: str = ";"
    family: dict[str, str] = Field(default_factory=dict)  # event type -> case family

    def column(self, kind: str, name: str) -> str:
        return self.columns.get(kind, {}).get(name, name)

    def value(self, name: str, raw: str) -> str:
        table = self.values.get(name, {})
        if raw in table:
            return table[raw]
        folded = {k.strip().lower(): v for k, v in table.items()}
        return folded.get(raw.strip().lower(), raw.strip().lower().replace(" ", "_"))


def load_mapping(path: Path | None) -> Mapping:
    if path is None:
        return Mapping()
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"mapping {path}", [str(exc)]) from None
    try:
        mapping = Mapping.model_validate(data or {})
    except ValidationError as exc:
        raise InputError(f"mapping {path}", describe(exc)) from None
    problems = [f"files.{k}: unknown kind (one of {', '.join(KINDS)})" for k in mapping.files]
    problems = [p for p, k in zip(problems, mapping.files, strict=True) if k not in KINDS]
    for kind, cols in mapping.columns.items():
        if kind not in KINDS:
            problems.append(f"columns.{kind}: unknown kind (one of {', '.join(KINDS)})")
            continue
        problems += [
            f"columns.{kind}.{name}: unknown field (one of {', '.join(FIELDS[kind])})"
            for name in cols
            if name not in FIELDS[kind]
        ]
    try:
        ZoneInfo(mapping.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: unknown time zone {mapping.timezone!r}")
    if problems:
        raise InputError(f"mapping {path}", problems)
    return mapping


# ---------------------------------------------------------------------------- reading rows
@dataclass
class Row:
    file: Path
    number: int  # CSV: line of the row (header = 1); JSONL: line number
    values: dict[str, str]


class Problems:
    """Every problem found, each naming file, row and column."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(
        self, row: Row | None, column: str | None, message: str, file: Path | None = None
    ) -> None:
        where = f"{row.file}:{row.number}" if row is not None else str(file or "")
        col = f": column {column!r}" if column else ""
        self.items.append(f"{where}{col}: {message}")


def _flat(data: dict[str, Any]) -> dict[str, str]:
    return {
        str(k): (json.dumps(v) if isinstance(v, dict | list) else str(v))
        for k, v in data.items()
        if v is not None
    }


def _json_rows(path: Path, number: int, data: dict[str, Any], problems: Problems) -> Iterator[Row]:
    """A JSONL object is one row; one that nests a list of objects (an order's `lines`) is
    one row per element, the element's fields added to the object's."""
    nested = [k for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if len(nested) > 1:
        problems.add(Row(path, number, {}), None, f"more than one nested list: {nested}")
        return
    if not nested:
        yield Row(path, number, _flat(data))
        return
    outer = {k: v for k, v in data.items() if k != nested[0]}
    for element in data[nested[0]]:
        if not isinstance(element, dict):
            problems.add(Row(path, number, {}), nested[0], "every element must be an object")
            return
        yield Row(path, number, _flat(outer | element))


def read_rows(path: Path, problems: Problems) -> Iterator[Row]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.add(None, None, "no such file", path)
        return
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(None, None, f"cannot read: {exc}", path)
        return
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.add(Row(path, number, {}), None, f"not JSON: {exc.msg}")
                continue
            if not isinstance(data, dict):
                problems.add(Row(path, number, {}), None, "a row must be a JSON object")
                continue
            yield from _json_rows(path, number, data, problems)
        return
    reader = csv.DictReader(text.splitlines())
    for record in reader:
        number = reader.line_num
        if None in record:
            problems.add(Row(path, number, {}), None, "more values than header columns")
            continue
        if not any((v or "").strip() for v in record.values()):
            continue
        yield Row(path, number, {k.strip(): (v or "").strip() for k, v in record.items() if k})


class Reader:
    """Typed access to a row's fields through the mapping; problems are collected."""

    def __init__(self, kind: str, mapping: Mapping, problems: Problems) -> None:
        self.kind = kind
        self.mapping = mapping
        self.problems = problems
        self.zone = ZoneInfo(mapping.timezone)

    def col(self, name: str) -> str:
        return self.mapping.column(self.kind, name)

    def text(self, row: Row, name: str) -> str | None:
        value = row.values.get(self.col(name), "").strip()
        if value:
            return value
        if name in REQUIRED[self.kind]:
            self.problems.add(row, self.col(name), "missing value (required)")
        return None

    def number(self, row: Row, name: str, *, integer: bool = False) -> float | None:
        raw = self.text(row, name)
        if raw is None:
            return None
        try:
            value = float(raw.replace(",", "")) if not integer else int(raw)
        except ValueError:
            kind = "an integer" if integer else "a number"
            self.problems.add(row, self.col(name), f"{raw!r} is not {kind}")
            return None
        if not math.isfinite(value):
            self.problems.add(row, self.col(name), f"{raw!r} is not a finite number")
            return None
        return value

    def moment(self, row: Row, name: str) -> datetime | None:
        raw = self.text(row, name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            self.problems.add(
                row, self.col(name), f"{raw!r} is not an ISO 8601 time (2026-11-24T09:05:00Z)"
            )
            return None
        local = value if value.tzinfo is not None else value.replace(tzinfo=self.zone)
        return local.astimezone(UTC)

    def choice(self, row: Row, name: str, allowed: tuple[str, ...]) -> str | None:
        raw = self.text(row, name)
        if raw is None:
            return None
        value = self.mapping.value(name, raw)
        if value not in allowed:
            self.problems.add(
                row,
                self.col(name),
                f"{raw!r} is not one of {', '.join(allowed)} "
                f"(map it under values.{name} in the mapping file)",
            )
            return None
        return value


def check_columns(rows: list[Row], reader: Reader, path: Path) -> bool:
    """The header (CSV) must hold every required column; say which are missing."""
    if not rows or path.suffix.lower() in (".jsonl", ".ndjson"):
        return True
    present = set(rows[0].values)
    missing = [reader.col(n) for n in REQUIRED[reader.kind] if reader.col(n) not in present]
    if missing:
        reader.problems.add(None, None, f"missing required column(s): {', '.join(missing)}", path)
        return False
    return True
