"""What a decision's actions would really have done, under a case's hidden truth.

Per affected order, the executed actions become a `Fulfilment` (ship legs, or a promise moved
or lines cancelled) and `simulate` plays it out against the truth:

- a leg whose node's real pickable units (truth, else the record) minus the other orders'
  reservations cannot cover its lines fails the pick; a partner node that really rejects new
  work fails it too: promise missed, `REWORK_DAYS` late, `REWORK_COST` spent;
- otherwise the contract's timing model runs on the node's real capacity and the event's
  backlog, cut-off and disruption, with the lane's real on-time rate (truth, else the record):
  P(on time) = r + (1 - r) * P(log-normal delay <= slack) (tools/promise.py, calibrated to
  Olist), and one seeded uniform draw per (seed, case, order, trial) decides it, so two
  policies that ship the same way get the same outcome (common random numbers);
- a re-promise, backorder or cancellation breaks the original promise by construction.

A person's delay is part of the outcome: an escalated order is handled `TRIAGE_HOURS` later
(the static playbook, at a manual cost), a plan waiting for approval runs `APPROVAL_HOURS`
later.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from evals.cases import Truth
from tools.decisions import Action, ActionType
from tools.network import Order
from tools.promise import (
    LATE_DELAY_MEDIAN_PER_TRANSIT_DAY,
    LATE_DELAY_MIN_MEDIAN_DAYS,
    LATE_DELAY_SIGMA,
    estimate,
    on_time_probability,
    ready_at,
)
from tools.sourcing.situation import Situation
from tools.view import NetworkView, lane_key, position_key

METHOD = (
    "Each affected order's final fulfilment (people included: an escalated case is handled "
    f"after a ~{6:g} h triage with the static playbook, a pending plan runs after a ~1.5 h "
    "approval) is played out under the case's hidden truth: a leg fails when the node's real "
    "pickable units minus other reservations cannot cover it, or a partner really rejects new "
    "work (2 days of re-work, $15); otherwise the contract's timing model runs on the node's "
    "real capacity and the event's backlog, cut-off and disruption, and P(on time) = r + (1-r) "
    "P(log-normal delay <= slack) with the lane's real on-time rate r (delay shape calibrated "
    "to Olist: sigma 0.825, median 0.93 x transit). One seeded uniform draw per "
    "(seed, case, order, trial) decides it: policies that ship the same way get the same "
    "outcome. Re-promises, backorders and cancellations break the original promise."
)
REWORK_DAYS = 2.0  # a failed pick or a partner rejection found later: re-sourced this late
REWORK_COST = 15.0  # re-work of a failed pick / rejected order (same as the score's default)
TRANSFER_DAYS = 1.0  # stock moved between nodes before it ships on
TRIAGE_HOURS = 6.0  # median wait before a person handles an escalated exception
APPROVAL_HOURS = 1.5  # median wait for a person to approve a pending plan
MANUAL_COST_ESCALATED = 6.0  # a person's time to triage one order (~5 min)
MANUAL_COST_APPROVAL = 2.0  # a person's time to approve a plan per order


@dataclass(frozen=True)
class Leg:
    node: str
    carrier_service: str
    lines: tuple[tuple[str, int], ...]
    new_work: bool  # work sent to a node other than the order's current allocation
    pick_node: str | None = None  # where the stock is picked (transfer: its from_node)
    extra_days: float = 0.0


@dataclass
class Fulfilment:
    """How one order is fulfilled after the decision."""

    order: str
    legs: list[Leg] = field(default_factory=list)
    promise_moved_days: float | None = None  # repromise / backorder
    cancelled: bool = False
    cost_delta: float = 0.0
    delay_hours: float = 0.0  # a person's delay before it runs
    manual_cost: float = 0.0


@dataclass(frozen=True)
class OrderResult:
    order: str
    kept: bool
    p_on_time: float
    lateness_days: float
    cost: float
    failure: str | None = None  # pick_failed | partner_rejected | late | promise_moved | ...


def _lines(order: Order) -> tuple[tuple[str, int], ...]:
    qty: dict[str, int] = {}
    for line in order.lines:
        qty[line.sku] = qty.get(line.sku, 0) + line.qty
    return tuple(qty.items())


def keep_plan(order: Order) -> Fulfilment:
    plan = Fulfilment(order=order.id)
    if order.allocation is not None:
        plan.legs.append(
            Leg(order.allocation.node, order.allocation.carrier_service, _lines(order), False)
        )
    return plan


def fulfilments(view: NetworkView, orders: list[str], actions: list[Action]) -> list[Fulfilment]:
    """Per affected order, what the actions do (an order without actions keeps its plan)."""
    by_order: dict[str, list[Action]] = {o: [] for o in orders}
    for action in actions:
        for o in action.touched_orders():
            by_order.setdefault(o, []).append(action)
    result: list[Fulfilment] = []
    for order_id, acts in by_order.items():
        order = view.orders.get(order_id)
        if order is None:
            continue
        result.append(_fulfilment(order, acts))
    return result


def _fulfilment(order: Order, actions: list[Action]) -> Fulfilment:
    plan = keep_plan(order)
    plan.cost_delta = round(sum(a.cost_delta for a in actions), 2)
    current = order.allocation
    types = {a.type for a in actions}
    if ActionType.CANCEL_LINES in types:
        plan.cancelled = True
        plan.legs = []
        return plan
    for action in actions:
        if action.type in (ActionType.REPROMISE, ActionType.BACKORDER):
            moved = 0.0
            if action.promised_by is not None:
                moved = max(0.0, (action.promised_by - order.promised_by).total_seconds() / 86400)
            plan.promise_moved_days = max(plan.promise_moved_days or 0.0, moved)
    if ActionType.BACKORDER in types:
        plan.legs = []
        return plan
    for action in actions:
        lines = tuple((ln.sku, ln.qty) for ln in action.lines) or _lines(order)
        if action.type is ActionType.SPLIT and action.legs:
            plan.legs = [
                Leg(
                    leg.node,
                    leg.carrier_service,
                    tuple((ln.sku, ln.qty) for ln in leg.lines),
                    current is None or leg.node != current.node,
                )
                for leg in action.legs
            ]
        elif action.type is ActionType.REALLOCATE and action.node and action.carrier_service:
            new = current is None or action.node != current.node
            plan.legs = [Leg(action.node, action.carrier_service, lines, new)]
        elif action.type in (ActionType.UPGRADE_SERVICE, ActionType.BOOK_CARRIER) and (
            action.carrier_service
        ):
            node = action.node or (plan.legs[0].node if plan.legs else None)
            if node is None:
                continue
            new = current is None or node != current.node
            plan.legs = [Leg(node, action.carrier_service, _lines(order), new)]
        elif action.type is ActionType.TRANSFER_INVENTORY and action.from_node:
            node = action.node or (current.node if current else None)
            service = action.carrier_service or (current.carrier_service if current else None)
            if node is None or service is None:
                continue
            plan.legs = [Leg(node, service, _lines(order), True, action.from_node, TRANSFER_DAYS)]
    return plan


def _uniforms(seed: int, case_id: str, order_id: str, trial: int) -> tuple[float, float]:
    digest = hashlib.sha256(f"{seed}:{case_id}:{order_id}:{trial}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    return rng.random(), rng.random()


def _normal_ppf(u: float) -> float:
    """Inverse standard normal CDF (Acklam's approximation is plenty here)."""
    u = min(max(u, 1e-9), 1 - 1e-9)
    return math.sqrt(2) * _erfinv(2 * u - 1)


def _erfinv(x: float) -> float:
    a = 0.147
    ln = math.log(1 - x * x)
    first = 2 / (math.pi * a) + ln / 2
    return math.copysign(math.sqrt(math.sqrt(first * first - ln / a) - first), x)


@dataclass(frozen=True)
class LegOdds:
    ok: bool
    failure: str | None
    p_on_time: float
    slack_days: float
    transit_days: float


def leg_odds(
    view: NetworkView,
    situation: Situation,
    truth: Truth,
    order: Order,
    leg: Leg,
    release: datetime,
) -> LegOdds:
    """Whether the leg can be picked and accepted, and its real P(on time)."""
    pick_node = leg.pick_node or leg.node
    for sku, qty in leg.lines:
        pos = view.position(pick_node, sku)
        on_hand = pos.on_hand if pos else 0
        real = truth.pickable.get(position_key(pick_node, sku), on_hand)
        real = min(real, on_hand)
        reserved = pos.reserved if pos else 0
        own = (
            qty
            if order.allocation is not None
            and order.allocation.node == pick_node
            and not leg.new_work
            else 0
        )
        if real - max(0, reserved - own) < qty:
            return LegOdds(False, "pick_failed", 0.0, 0.0, 0.0)
    if leg.new_work and not truth.partner_accepts.get(leg.node, True):
        return LegOdds(False, "partner_rejected", 0.0, 0.0, 0.0)
    node = view.nodes.get(leg.node)
    found = view.services.get(leg.carrier_service)
    if node is None or found is None:
        return LegOdds(False, "invalid_plan", 0.0, 0.0, 0.0)
    carrier, service = found
    real_cap = truth.node_capacity_units_per_day.get(node.id)
    if real_cap is not None:
        node = node.model_copy(update={"capacity_units_per_day": real_cap})
    added = sum(q for _, q in leg.lines) if leg.new_work else 0
    start = release + timedelta(days=leg.extra_days)
    earliest = situation.not_before.get(node.id)
    if earliest is not None:
        ready = ready_at(node, start, added)
        if ready is not None and ready < earliest:
            start += earliest - ready
    est = estimate(node, carrier, service, order.ship_to, order.promised_by, start, None, added)
    if est is None:
        return LegOdds(False, "node_closed", 0.0, 0.0, 0.0)
    real_r = truth.carrier_on_time.get(lane_key(carrier.id, order.ship_to.region))
    if real_r is None:
        p = est.on_time_probability
    else:  # the truth's lane rate already includes any disruption
        p = on_time_probability(real_r, est.slack_days, est.transit_days, est.disrupted)
        p = max(p, 0.0)
    return LegOdds(True, None, p, est.slack_days, est.transit_days)


def simulate(
    view: NetworkView,
    situation: Situation,
    truth: Truth,
    plan: Fulfilment,
    *,
    case_id: str,
    seed: int,
    trial: int = 0,
) -> OrderResult:
    """The order's outcome under the truth (see the module docstring)."""
    order = view.orders[plan.order]
    cost = plan.cost_delta + plan.manual_cost
    if plan.cancelled:
        return OrderResult(order.id, False, 0.0, 0.0, cost, "cancelled")
    if plan.promise_moved_days is not None:
        return OrderResult(order.id, False, 0.0, plan.promise_moved_days, cost, "promise_moved")
    if not plan.legs:
        return OrderResult(order.id, False, 0.0, REWORK_DAYS, cost, "no_plan")
    release = situation.release_at + timedelta(hours=plan.delay_hours)
    u, v = _uniforms(seed, case_id, order.id, trial)
    p_all = 1.0
    worst_slack, transit = math.inf, 0.0
    for leg in plan.legs:
        odds = leg_odds(view, situation, truth, order, leg, release)
        if not odds.ok:
            return OrderResult(order.id, False, 0.0, REWORK_DAYS, cost + REWORK_COST, odds.failure)
        p_all *= odds.p_on_time
        if odds.slack_days < worst_slack:
            worst_slack, transit = odds.slack_days, odds.transit_days
    if u < p_all:
        return OrderResult(order.id, True, p_all, 0.0, cost)
    median = max(LATE_DELAY_MIN_MEDIAN_DAYS, LATE_DELAY_MEDIAN_PER_TRANSIT_DAY * transit)
    delay = median * math.exp(LATE_DELAY_SIGMA * _normal_ppf(v))
    lateness = max(0.1, delay - max(0.0, worst_slack)) if worst_slack >= 0 else -worst_slack + delay
    return OrderResult(order.id, False, p_all, round(lateness, 3), cost, "late")


def expected_on_time(
    view: NetworkView, situation: Situation, truth: Truth, plan: Fulfilment
) -> float:
    """P(promise kept) of a plan under the truth, without the draw (what the oracle maximises)."""
    if plan.cancelled or plan.promise_moved_days is not None or not plan.legs:
        return 0.0
    order = view.orders[plan.order]
    release = situation.release_at + timedelta(hours=plan.delay_hours)
    p = 1.0
    for leg in plan.legs:
        odds = leg_odds(view, situation, truth, order, leg, release)
        if not odds.ok:
            return 0.0
        p *= odds.p_on_time
    return p
