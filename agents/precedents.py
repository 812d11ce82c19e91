"""Precedents: resolved exceptions and how they ended, described in words for retrieval.

`describe_situation` turns an event and the network it happened in into one deterministic
sentence ("node_overload at STORE-BOS (store, NE) affecting 1 gold d2c order of SKU-TENT;
utilisation 325%"). The same function describes a new exception when memory is queried, so
similar situations land near each other in embedding space.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agents.untrusted import one_line
from tools.decisions import DecidedBy, Decision, DecisionStatus
from tools.events import EventType, ExceptionEvent
from tools.view import NetworkView


class MemoryUnavailable(RuntimeError):
    """The precedent store cannot be used right now. Callers may catch it and go on."""


class PrecedentNotFound(LookupError):
    """No precedent is stored under that exception id."""


MAX_PRECEDENT_TEXT_CHARS = 2000
MAX_REPORT_QUOTE_CHARS = 200
MAX_LISTED = 4


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


def _number(value: Any) -> float | None:
    """A finite number from free-form event details, else None (details are never trusted)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _counted(counter: Counter[str]) -> str:
    return ", ".join(
        f"{n} {name}" for name, n in sorted(counter.items(), key=lambda x: (-x[1], x[0]))
    )


def _node_phrase(view: NetworkView, node_id: str) -> str:
    node = view.nodes.get(node_id)
    if node is None:
        return f"{node_id} (unknown node)"
    status = "" if node.status.value == "open" else f", {node.status.value}"
    return f"{node_id} ({node.kind.value}, {node.region}{status})"


def _orders_phrase(view: NetworkView, order_ids: Sequence[str]) -> str:
    orders = [view.orders[o] for o in order_ids if o in view.orders]
    unknown = len(order_ids) - len(orders)
    if not orders:
        return f"affecting {unknown} unknown order{'s' if unknown != 1 else ''}" if unknown else ""
    tiers = Counter(o.customer_tier.value for o in orders)
    channels = Counter(o.channel.value for o in orders)
    skus = sorted({line.sku for o in orders for line in o.lines})
    units = sum(o.units for o in orders)
    value = sum(o.value for o in orders)
    if len(orders) == 1:
        who = f"1 {orders[0].customer_tier.value} {orders[0].channel.value} order"
    else:
        who = f"{len(orders)} orders ({_counted(tiers)}; {_counted(channels)})"
    phrase = f"affecting {who} of {_listing(skus)}, {units} unit{'s' if units != 1 else ''}"
    phrase += f" worth ${value:,.0f}"
    if unknown:
        phrase += f" (+{unknown} unknown)"
    return phrase


def describe_situation(
    event: ExceptionEvent, view: NetworkView, affected_orders: Sequence[str] | None = None
) -> str:
    """One deterministic sentence describing the exception in its network.

    `affected_orders` defaults to the event's own orders (pass the resolved reach of a scoped
    event for a fuller description). Unknown ids are named as unknown, never an error.
    """
    head = event.type.value
    if event.node:
        head += f" at {_node_phrase(view, event.node)}"
    if event.carrier:
        head += f" on carrier {event.carrier}"
        if event.carrier not in view.carriers:
            head += " (unknown carrier)"
    if event.region:
        head += f" in region {event.region}"
    if event.sku:
        head += f" for {event.sku}"
    order_ids = list(affected_orders if affected_orders is not None else event.orders)
    orders = _orders_phrase(view, order_ids)
    if orders:
        head += f" {orders}"
    parts = [head]

    details = event.details or {}
    node = view.nodes.get(event.node) if event.node else None
    if node is not None:
        backlog = _number(details.get("backlog_units"))
        capacity = _number(details.get("capacity_units_per_day"))
        backlog = node.backlog_units if backlog is None else backlog
        capacity = node.capacity_units_per_day if capacity is None else capacity
        if capacity > 0:
            parts.append(f"utilisation {_pct(backlog / capacity)}")
        else:
            parts.append("no capacity")
        if event.type in (EventType.SHORT_PICK, EventType.STOCKOUT):
            parts.append(f"inventory accuracy {view.accuracy(node.id) * 100:.1f}%")
    carrier = view.carriers.get(event.carrier) if event.carrier else None
    if carrier is not None:
        regions = [event.region] if event.region else sorted(carrier.regions)
        rates = [view.reliability(carrier.id, r) for r in regions] or [carrier.on_time_rate]
        parts.append(f"carrier on-time {_pct(min(rates))}")
        if carrier.disrupted_regions:
            parts.append(f"already disrupted in {_listing(sorted(carrier.disrupted_regions))}")

    known_orders = [view.orders[o] for o in order_ids if o in view.orders]
    if known_orders:
        slack = min((o.promised_by - event.occurred_at).total_seconds() for o in known_orders)
        parts.append(f"earliest promise in {slack / 86400:.1f} days")
        if view.is_hazmat(
            line.sku for o in known_orders for line in o.lines if line.sku in view.skus
        ):
            parts.append("hazmat")
    for key in ("short_qty", "backlog_units", "capacity_units_per_day", "delay_days"):
        value = _number(details.get(key))
        if value is not None:
            parts.append(f"{key.replace('_', ' ')} {value:g}")
    for key in ("restock_at", "carrier_service"):
        raw = details.get(key)
        if isinstance(raw, str) and raw.strip():
            parts.append(f"{key.replace('_', ' ')} {one_line(raw, 64)}")
    if event.text and event.type is EventType.UNSTRUCTURED:
        parts.append(f'report: "{one_line(event.text, MAX_REPORT_QUOTE_CHARS)}"')
    return one_line("; ".join(parts), MAX_PRECEDENT_TEXT_CHARS)


class PrecedentOutcome(BaseModel):
    """How a resolved case really ended (from `POST /v1/outcomes` and the learner)."""

    model_config = ConfigDict(extra="forbid")

    promise_kept: bool | None = None
    lateness_days: Annotated[float, Field(ge=0.0)] | None = None
    actual_cost: float | None = None
    partner_accepted: bool | None = None
    note: Annotated[str, Field(max_length=500)] | None = None
    recorded_at: AwareDatetime | None = None

    def phrase(self) -> str:
        bits: list[str] = []
        if self.promise_kept is not None:
            bits.append("promise kept" if self.promise_kept else "promise missed")
        if self.lateness_days:
            bits.append(f"{self.lateness_days:.1f} days late")
        if self.actual_cost is not None:
            bits.append(f"actual cost ${self.actual_cost:,.2f}")
        if self.partner_accepted is not None:
            bits.append("partner accepted" if self.partner_accepted else "partner refused")
        return ", ".join(bits) or "no outcome facts"


class Precedent(BaseModel):
    """One resolved exception as memory keeps it."""

    model_config = ConfigDict(extra="forbid")

    exception_id: Annotated[str, Field(min_length=1, max_length=128)]
    event_type: EventType
    text: Annotated[str, Field(min_length=1, max_length=MAX_PRECEDENT_TEXT_CHARS)]
    status: DecisionStatus
    chosen_kind: str | None = None
    actions_summary: Annotated[str, Field(max_length=1000)] = ""
    decided_by: DecidedBy = DecidedBy.POLICY
    cost_delta: float = 0.0
    recorded_at: AwareDatetime
    outcome: PrecedentOutcome | None = None

    @classmethod
    def from_decision(
        cls,
        decision: Decision,
        event: ExceptionEvent,
        text: str,
        *,
        recorded_at: datetime | None = None,
    ) -> Precedent:
        """The precedent of a decision; `text` is `describe_situation(event, view, ...)`.

        `recorded_at` defaults to the decision's time, else the event's (never the wall clock:
        replays must store the same precedent)."""
        chosen = next((c for c in decision.candidates if c.id == decision.chosen), None)
        actions = "; ".join(
            " ".join(
                part
                for part in (
                    a.type.value,
                    ",".join(a.touched_orders()),
                    f"-> {a.node}" if a.node else "",
                    f"via {a.carrier_service}" if a.carrier_service else "",
                )
                if part
            )
            for a in decision.actions
        )
        return cls(
            exception_id=decision.exception_id,
            event_type=event.type,
            text=text,
            status=decision.status,
            chosen_kind=chosen.kind if chosen else None,
            actions_summary=one_line(actions or (chosen.summary if chosen else ""), 1000),
            decided_by=decision.decided_by,
            cost_delta=round(sum(a.cost_delta for a in decision.actions), 2),
            recorded_at=recorded_at or decision.decided_at or event.occurred_at,
        )

    def line(self) -> str:
        """One line for a prompt or a screen: situation, what was done, how it ended."""
        done = self.actions_summary or "no action"
        kind = f" ({self.chosen_kind})" if self.chosen_kind else ""
        ended = f"; outcome: {self.outcome.phrase()}" if self.outcome else ""
        return (
            f"[{self.exception_id}] {self.text} -> {self.status.value} by "
            f"{self.decided_by.value}{kind}: {done}; cost delta {self.cost_delta:+.2f}{ended}"
        )


class PrecedentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=MAX_PRECEDENT_TEXT_CHARS)]
    event_type: EventType | None = None
    exclude_exception_id: str | None = None  # the case being resolved, when it is re-run

    @classmethod
    def of(
        cls,
        event: ExceptionEvent,
        view: NetworkView,
        affected_orders: Sequence[str] | None = None,
        *,
        same_type: bool = False,
    ) -> PrecedentQuery:
        return cls(
            text=describe_situation(event, view, affected_orders),
            event_type=event.type if same_type else None,
            exclude_exception_id=event.id,
        )


class SimilarCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    precedent: Precedent
    distance: float  # cosine distance, 0 = identical
    similarity: float  # 1 - distance
