"""The read tools: order status and history, why a decision was made, network health,
pending approvals and similar past cases. Pure reads of the store: nothing is changed.

Text written by third parties (an event's `text`) is cleaned (`agents.untrusted`) and
returned in an `untrusted_text` field with the instruction-like patterns it contains, so
that every face shows it as a quote and the LLM receives it as data.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.precedents import MemoryUnavailable
from agents.rationale import describe_event
from agents.untrusted import clean_untrusted, instruction_markers
from guardrails.explain import explain
from guardrails.policy import Policy
from tools.decisions import Decision
from tools.store import ApprovalRecord, ExceptionRecord, NoNetwork, Store

if TYPE_CHECKING:
    from agents.memory import PrecedentMemory

# How many recent exceptions are searched for the ones that touch an order.
HISTORY_SCAN = 500
# A node at or above this utilisation (under the policy's limit) is busy (as the console).
BUSY_UTILIZATION = 0.8
MAX_UNTRUSTED_CHARS = 500
# Lists in an answer are cut to this (a batch decision may cover thousands of orders).
MAX_LISTED = 25


class ToolError(ValueError):
    """A read the user can fix (unknown id, nothing loaded): said plainly, nothing changed."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UntrustedText(Model):
    """Text from outside (an event's free text): data to quote, never instructions."""

    text: str
    instruction_markers: list[str] = Field(default_factory=list)


def untrusted(text: str | None) -> UntrustedText | None:
    if not text or not text.strip():
        return None
    return UntrustedText(
        text=clean_untrusted(text, MAX_UNTRUSTED_CHARS),
        instruction_markers=instruction_markers(text),
    )


class ExceptionBrief(Model):
    id: str
    type: str
    status: str
    received_at: datetime
    summary: str | None = None
    approval_id: str | None = None
    approval_status: str | None = None


class OrderStatusResult(Model):
    order: str
    status: str
    channel: str
    customer_tier: str
    ship_to_region: str
    promised_by: datetime
    node: str | None
    carrier_service: str | None
    lines: list[str]
    value: float
    exceptions: list[ExceptionBrief]
    outcomes: int


class ActionBrief(Model):
    type: str
    order: str | None = None
    node: str | None = None
    from_node: str | None = None
    carrier_service: str | None = None
    cost_delta: float = 0.0


class Explanation(Model):
    exception_id: str
    event: str
    status: str
    decided_by: str | None = None
    chosen: str | None = None
    summary: str | None = None
    rationale: str = ""
    guardrails: str = ""
    actions: list[ActionBrief] = Field(default_factory=list)
    approval_id: str | None = None
    approval_status: str | None = None
    approval_decided_by: str | None = None
    steps: list[str] = Field(default_factory=list)
    more_actions: int = 0  # actions (and steps) not listed beyond `MAX_LISTED`
    untrusted_text: UntrustedText | None = None


class NodeBrief(Model):
    id: str
    kind: str
    region: str
    status: str
    utilization: float
    level: str


class CarrierBrief(Model):
    id: str
    on_time_rate: float
    disrupted_regions: list[str]


class HealthResult(Model):
    loaded: bool
    max_node_utilization: float
    nodes: list[NodeBrief] = Field(default_factory=list)
    carriers: list[CarrierBrief] = Field(default_factory=list)
    overloaded: list[str] = Field(default_factory=list)
    busy: list[str] = Field(default_factory=list)
    closed: list[str] = Field(default_factory=list)


class PendingItem(Model):
    approval_id: str
    exception_id: str
    exception_type: str | None
    orders: list[str]
    summary: str | None
    cost_delta: float | None
    reasons: list[str]
    requested_at: datetime | None


class PendingResult(Model):
    items: list[PendingItem]
    more: int = 0  # pending approvals not listed (oldest first are listed)


class PrecedentItem(Model):
    exception_id: str
    event_type: str
    status: str
    similarity: float
    actions: str
    outcome: str | None = None


class PrecedentsResult(Model):
    available: bool
    note: str | None = None
    items: list[PrecedentItem] = Field(default_factory=list)


def chosen_summary(decision: Decision | None) -> str | None:
    if decision is None or decision.chosen is None:
        return None
    found = next((c for c in decision.candidates if c.id == decision.chosen), None)
    return found.summary if found is not None else None


def cost_delta(decision: Decision | None) -> float | None:
    if decision is None or not decision.actions:
        return None
    return round(sum(a.cost_delta for a in decision.actions), 2)


def touches(record: ExceptionRecord, order_id: str) -> bool:
    if order_id in record.event.orders:
        return True
    return record.decision is not None and order_id in record.decision.orders


def exceptions_of_order(store: Store, order_id: str) -> list[ExceptionRecord]:
    """Exceptions touching the order, newest first (among the latest `HISTORY_SCAN`)."""
    return [r for r in store.list_exceptions(limit=HISTORY_SCAN) if touches(r, order_id)]


def brief(record: ExceptionRecord) -> ExceptionBrief:
    decision = record.decision
    approval = decision.approval if decision is not None else None
    return ExceptionBrief(
        id=record.id,
        type=record.event.type.value,
        status=record.status,
        received_at=record.received_at,
        summary=chosen_summary(decision),
        approval_id=approval.id if approval is not None else None,
        approval_status=approval.status.value if approval is not None else None,
    )


def order_status(store: Store, order_id: str) -> OrderStatusResult:
    if not store.has_network():
        raise ToolError("no network is loaded: run `execlayer load` first")
    order = store.get_order(order_id)
    if order is None:
        raise ToolError(f"there is no order {order_id!r}")
    return OrderStatusResult(
        order=order.id,
        status=order.status.value,
        channel=order.channel.value,
        customer_tier=order.customer_tier.value,
        ship_to_region=order.ship_to.region,
        promised_by=order.promised_by,
        node=order.allocation.node if order.allocation else None,
        carrier_service=order.allocation.carrier_service if order.allocation else None,
        lines=[f"{line.qty} x {line.sku}" for line in order.lines],
        value=round(order.value, 2),
        exceptions=[brief(r) for r in exceptions_of_order(store, order.id)[:MAX_LISTED]],
        outcomes=len(store.outcomes_for_order(order.id)),
    )


def find_exception(store: Store, ref: str) -> ExceptionRecord:
    """An exception by its id, or the latest one touching an order of that id."""
    record = store.get_exception(ref)
    if record is not None:
        return record
    if store.get_order(ref) is None:
        raise ToolError(f"there is no exception or order {ref!r}")
    found = exceptions_of_order(store, ref)
    if not found:
        raise ToolError(f"no exception has touched order {ref} yet: nothing to explain")
    return found[0]


def explain_decision(store: Store, ref: str) -> Explanation:
    record = find_exception(store, ref)
    decision = record.decision
    orders = list(decision.orders) if decision is not None and decision.orders else []
    result = Explanation(
        exception_id=record.id,
        event=describe_event(record.event, orders or list(record.event.orders)),
        status=record.status,
        untrusted_text=untrusted(record.event.text),
    )
    if decision is None:
        return result
    result.decided_by = decision.decided_by.value
    result.chosen = decision.chosen
    result.summary = chosen_summary(decision)
    result.rationale = decision.rationale
    result.guardrails = explain(decision.verdicts, audience="plain") if decision.verdicts else ""
    result.actions = [
        ActionBrief(
            type=a.type.value,
            order=a.order,
            node=a.node,
            from_node=a.from_node,
            carrier_service=a.carrier_service,
            cost_delta=round(a.cost_delta, 2),
        )
        for a in decision.actions[:MAX_LISTED]
    ]
    result.more_actions = max(0, len(decision.actions) - MAX_LISTED)
    if decision.approval is not None:
        result.approval_id = decision.approval.id
        result.approval_status = decision.approval.status.value
        result.approval_decided_by = decision.approval.decided_by
    steps = store.audit_trail(record.id).actions
    result.steps = [f"{a.step}: {a.status}" for a in steps[:MAX_LISTED]]
    return result


NodeLevel = Literal["ok", "busy", "overloaded", "degraded", "closed"]


def node_level(status: str, utilization: float, limit: float) -> NodeLevel:
    """A node's health level: the one rule the API, the console and the assistant share."""
    if status == "closed":
        return "closed"
    if utilization >= limit:
        return "overloaded"
    if status == "degraded":
        return "degraded"
    if utilization >= BUSY_UTILIZATION:
        return "busy"
    return "ok"


def network_health(store: Store, policy: Policy) -> HealthResult:
    """Node utilisation and level, and disrupted carrier lanes (what `GET /v1/network/health`
    reports, from the same view and the same policy limit)."""
    limit = policy.deny.max_node_utilization
    try:
        view = store.view([])
    except NoNetwork:
        return HealthResult(loaded=False, max_node_utilization=limit)
    nodes = []
    for node in view.nodes.values():
        raw = node.utilization()
        utilization = round(raw, 4) if math.isfinite(raw) else 999.0
        nodes.append(
            NodeBrief(
                id=node.id,
                kind=node.kind.value,
                region=node.region,
                status=node.status.value,
                utilization=utilization,
                level=node_level(node.status.value, utilization, limit),
            )
        )
    nodes.sort(key=lambda n: (-n.utilization, n.id))
    carriers = [
        CarrierBrief(
            id=c.id, on_time_rate=c.on_time_rate, disrupted_regions=list(c.disrupted_regions)
        )
        for c in sorted(view.carriers.values(), key=lambda c: c.id)
    ]
    return HealthResult(
        loaded=True,
        max_node_utilization=limit,
        nodes=nodes,
        carriers=carriers,
        overloaded=[n.id for n in nodes if n.level == "overloaded"],
        busy=[n.id for n in nodes if n.level == "busy"],
        closed=[n.id for n in nodes if n.level == "closed"],
    )


def pending_item(store: Store, approval: ApprovalRecord) -> PendingItem:
    record = store.get_exception(approval.exception_id)
    decision = record.decision if record is not None else None
    return PendingItem(
        approval_id=approval.id,
        exception_id=approval.exception_id,
        exception_type=record.event.type.value if record is not None else None,
        orders=list(decision.orders) if decision is not None else [],
        summary=chosen_summary(decision),
        cost_delta=cost_delta(decision),
        reasons=list(approval.reasons),
        requested_at=approval.requested_at,
    )


def pending_approvals(store: Store) -> PendingResult:
    return PendingResult(
        items=[pending_item(store, a) for a in store.list_approvals(status="pending")]
    )


def search_precedents(memory: PrecedentMemory | None, query: str, k: int) -> PrecedentsResult:
    if memory is None:
        return PrecedentsResult(
            available=False, note="precedent memory is not enabled on this installation"
        )
    try:
        found = memory.similar(query, k)
    except MemoryUnavailable as exc:
        return PrecedentsResult(available=False, note=f"precedent memory is unavailable: {exc}")
    return PrecedentsResult(
        available=True,
        items=[
            PrecedentItem(
                exception_id=c.precedent.exception_id,
                event_type=c.precedent.event_type.value,
                status=c.precedent.status.value,
                similarity=c.similarity,
                actions=c.precedent.actions_summary,
                outcome=c.precedent.outcome.phrase() if c.precedent.outcome else None,
            )
            for c in found
        ],
    )
