"""What-if: run the sourcing tools on a hypothetical disruption, without acting.

"What happens if PARCELCO stops serving the Southeast?" becomes a hypothetical
`carrier_disruption` event (carrier PARCELCO, region SE); "what if STORE-BOS closes?" a
`node_outage`. The event is applied to an in-memory copy of the current view (the resolver's
own `apply_event`), the affected orders are re-planned at minimum expected cost by the batch
optimizer (`plan_batch`, the same one a real disruption gets), and the answer is the affected
orders, the re-plan and its cost and on-time impact. Nothing is registered, reserved, booked
or written: the store is only read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.assistant.reads import ToolError
from guardrails.policy import Policy
from tools.events import EventType, ExceptionEvent
from tools.sourcing.batch import BatchPlan, Shipment, plan_batch
from tools.sourcing.situation import apply_event
from tools.store import Store
from tools.view import NetworkView

WHAT_IF_TIME_LIMIT_S = 2.0
MAX_LISTED_ORDERS = 25


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderChange(Model):
    order: str
    kind: str
    before: str | None
    after: list[str]
    cost_delta: float
    on_time_before: float | None
    on_time_after: float | None
    reason: str | None = None


class WhatIfResult(Model):
    scenario: str
    affected_orders: int
    changes: list[OrderChange] = Field(default_factory=list)
    uncovered: list[str] = Field(default_factory=list)
    expected_cost_before: float = 0.0
    expected_cost_after: float = 0.0
    cost_delta: float = 0.0
    on_time_before: float | None = None
    on_time_after: float | None = None
    method: str | None = None
    optimal: bool | None = None
    notes: list[str] = Field(default_factory=list)
    acted: Literal[False] = False  # a what-if never acts


def _where(s: Shipment) -> str:
    return f"{s.node} via {s.carrier_service}"


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _after_on_time(shipments: list[Shipment]) -> float | None:
    known = [s.on_time_probability for s in shipments if s.on_time_probability is not None]
    return min(known) if known else None


def scenario_event(
    view: NetworkView,
    kind: Literal["carrier", "node"],
    *,
    carrier: str | None,
    region: str | None,
    node: str | None,
    at: datetime,
) -> tuple[ExceptionEvent, str]:
    """The hypothetical event and a sentence describing it; unknown ids are a `ToolError`."""
    if kind == "carrier":
        if not carrier or carrier not in view.carriers:
            known = ", ".join(sorted(view.carriers))
            raise ToolError(f"there is no carrier {carrier!r} (known: {known})")
        if region is not None:
            regions = {n.region for n in view.nodes.values()} | {
                r for c in view.carriers.values() for r in c.regions
            }
            if region not in regions:
                raise ToolError(
                    f"there is no region {region!r} (known: {', '.join(sorted(regions))})"
                )
        event = ExceptionEvent(
            id="WHAT-IF",
            type=EventType.CARRIER_DISRUPTION,
            occurred_at=at,
            source="what-if",
            carrier=carrier,
            region=region,
        )
        where = f" in region {region}" if region else ""
        return event, f"{carrier} stops serving{where or ' every region'}"
    if not node or node not in view.nodes:
        raise ToolError(f"there is no node {node!r} (known: {', '.join(sorted(view.nodes))})")
    event = ExceptionEvent(
        id="WHAT-IF", type=EventType.NODE_OUTAGE, occurred_at=at, source="what-if", node=node
    )
    return event, f"{node} closes"


def what_if(
    store: Store,
    policy: Policy,
    kind: Literal["carrier", "node"],
    *,
    carrier: str | None = None,
    region: str | None = None,
    node: str | None = None,
    now: datetime | None = None,
    time_limit_s: float = WHAT_IF_TIME_LIMIT_S,
) -> WhatIfResult:
    """The disruption starts `now` (default: the store's clock), or at the snapshot's time
    when that is later."""
    if not store.has_network():
        raise ToolError("no network is loaded: run `execlayer load` first")
    network = store.view([])  # nodes, carriers, stock; no orders
    moment = now or store.now()
    event, scenario = scenario_event(
        network, kind, carrier=carrier, region=region, node=node, at=max(network.as_of, moment)
    )
    in_reach = store.orders_in_scope(node=event.node, carrier=event.carrier, region=event.region)
    if not in_reach:
        return WhatIfResult(
            scenario=scenario, affected_orders=0, notes=["no open order would be affected"]
        )
    view, situation = apply_event(store.view(in_reach), event)
    if not situation.affected_orders:
        return WhatIfResult(
            scenario=scenario,
            affected_orders=0,
            notes=[*situation.notes, "no open order would be affected"],
        )
    plan: BatchPlan = plan_batch(
        view, situation, policy.priorities, policy.sourcing_limits(), time_limit_s=time_limit_s
    )
    changes = [
        OrderChange(
            order=p.order,
            kind=p.kind,
            before=_where(p.before) if p.before else None,
            after=[_where(s) for s in p.after],
            cost_delta=round(p.cost_delta, 2),
            on_time_before=(
                0.0
                if situation.is_broken(p.order)
                else (p.before.on_time_probability if p.before else None)
            ),
            on_time_after=_after_on_time(p.after),
            reason=p.reason,
        )
        for p in plan.orders
    ]
    before = [c.on_time_before for c in changes if c.on_time_before is not None]
    after = [c.on_time_after for c in changes if c.on_time_after is not None]
    return WhatIfResult(
        scenario=scenario,
        affected_orders=len(situation.affected_orders),
        changes=changes[:MAX_LISTED_ORDERS],
        uncovered=[f"{u.order}: {u.reason}" for u in plan.uncovered],
        expected_cost_before=round(plan.total_expected_cost_before, 2),
        expected_cost_after=round(plan.total_expected_cost_after, 2),
        cost_delta=round(sum(p.cost_delta for p in plan.orders), 2),
        on_time_before=_mean(before),
        on_time_after=_mean(after),
        method=plan.method,
        optimal=plan.optimal,
        notes=list(situation.notes)
        + (
            [f"{len(changes) - MAX_LISTED_ORDERS} more orders not listed"]
            if len(changes) > MAX_LISTED_ORDERS
            else []
        ),
    )
