"""Replay cases (contract section 5): one JSON object a line.

A case carries a network (inline or by `network_ref`, relative to the dataset file), an
optional policy override, the event, the hidden `truth` used only to score outcomes, an
optional `expected` block, and an optional `history` (what people did then, and how it ended).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evals.expectations import Expected
from tools.events import ExceptionEvent
from tools.inputs import InputError, describe
from tools.network import NetworkSnapshot


class Truth(BaseModel):
    """What was really so, where it differs from the records. Hidden from the resolver."""

    model_config = ConfigDict(extra="allow")

    pickable: dict[str, int] = Field(default_factory=dict)  # "NODE/SKU" -> real units
    carrier_on_time: dict[str, float] = Field(default_factory=dict)  # "CARRIER/REGION" -> p
    node_capacity_units_per_day: dict[str, int] = Field(default_factory=dict)
    partner_accepts: dict[str, bool] = Field(default_factory=dict)


class History(BaseModel):
    """What people did at the time and how it ended (imported from an OMS export)."""

    model_config = ConfigDict(extra="allow")

    action_type: str | None = None  # e.g. reallocate, upgrade_service, repromise, cancel_lines
    node: str | None = None
    carrier_service: str | None = None
    outcome: str | None = None  # e.g. on_time, late, cancelled
    cost: float | None = None
    decided_by: str | None = None


class ReplayCase(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    family: str
    network: NetworkSnapshot | None = None
    network_ref: str | None = None
    policy: dict[str, Any] | None = None
    event: ExceptionEvent
    truth: Truth = Field(default_factory=Truth)
    expected: Expected | None = None
    history: History | None = None

    @model_validator(mode="after")
    def _has_network(self) -> ReplayCase:
        if self.network is None and self.network_ref is None:
            raise ValueError("a case needs `network` or `network_ref`")
        return self

    def resolved_network(self, base: Path) -> NetworkSnapshot:
        """The case's network, reading `network_ref` relative to the dataset's folder."""
        if self.network is not None:
            return self.network
        assert self.network_ref is not None
        path = (base / self.network_ref).resolve()
        try:
            return NetworkSnapshot.model_validate_json(path.read_text())
        except (OSError, ValidationError) as exc:
            problems = describe(exc) if isinstance(exc, ValidationError) else [str(exc)]
            raise InputError(f"network_ref {path} of case {self.id}", problems) from exc

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True, by_alias=True)


def read_cases(path: Path) -> Iterator[ReplayCase]:
    """Cases of a JSONL file, one a line; a bad line is an InputError naming its line."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"dataset {path}", [str(exc)]) from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield ReplayCase.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"replay case at {path}:{number}", [str(exc)]) from exc
        except ValidationError as exc:
            raise InputError(f"replay case at {path}:{number}", describe(exc)) from exc


def write_cases(path: Path, cases: Iterable[ReplayCase]) -> int:
    """Write cases as JSONL; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w") as out:
        for case in cases:
            out.write(case.to_json() + "\n")
            count += 1
    return count
