"""The exception event of contract section 2."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, model_validator

from tools.network import Id, Strict

# Free text is untrusted partner input: bounded so it cannot flood a prompt or a log line.
MAX_EVENT_TEXT_CHARS = 4000


class EventType(StrEnum):
    SHORT_PICK = "short_pick"
    STOCKOUT = "stockout"
    NODE_OVERLOAD = "node_overload"
    NODE_OUTAGE = "node_outage"
    CUTOFF_MISSED = "cutoff_missed"
    CARRIER_DISRUPTION = "carrier_disruption"
    SLA_RISK = "sla_risk"
    PARTNER_REJECTED = "partner_rejected"
    BOOKING_FAILED = "booking_failed"
    UNSTRUCTURED = "unstructured"


class ExceptionEvent(Strict):
    id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
    type: EventType
    occurred_at: AwareDatetime
    source: Annotated[str, Field(min_length=1, max_length=64)] = "person"
    orders: Annotated[list[Id], Field(max_length=10_000)] = Field(default_factory=list)
    node: Id | None = None
    carrier: Id | None = None
    region: Id | None = None
    sku: Id | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    text: Annotated[str, Field(max_length=MAX_EVENT_TEXT_CHARS)] | None = None

    @model_validator(mode="after")
    def _has_a_target(self) -> ExceptionEvent:
        if self.type is EventType.UNSTRUCTURED:
            if not (self.text and self.text.strip()):
                raise ValueError("an unstructured event needs its text")
            return self
        if not (self.orders or self.node or self.carrier or self.region or self.sku):
            raise ValueError(
                "an event must name affected orders or a scope (node, carrier, region or sku)"
            )
        if len(set(self.orders)) != len(self.orders):
            raise ValueError("orders: duplicate order ids")
        return self

    @property
    def is_scoped(self) -> bool:
        """A scoped event names no orders: it touches every open order in its reach."""
        return not self.orders
