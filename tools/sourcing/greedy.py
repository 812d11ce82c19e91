"""The "static rules" baseline: ship from the nearest node with stock, by the cheapest service.

This is what the article execlayer answers calls brittle: it looks at distance and stock only,
not at node capacity, queue, inventory accuracy or carrier reliability (beyond what is legal:
open nodes that serve the order's channel, legal carrier services, policy limits). It is kept
to measure what the optimizer is worth, priced under the same expected-cost score.

For a batch, orders are taken in the situation's order and stock is used up as they go (a rule
engine does not oversell either); node capacity is ignored, so the plan may overload nodes
(`capacity_violations` lists them). Orders whose allocation still stands are left alone.
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import BaseModel, ConfigDict

from tools.carriers import current_cost
from tools.decisions import Action, ActionLine, ActionType, Candidate
from tools.geo import great_circle_km
from tools.priorities import BusinessPriorities
from tools.sourcing.candidates import UnknownOrderError, backorder_penalty
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.options import OrderContext, leg_of, order_lines
from tools.sourcing.pricing import BatchPricer, haversine_km
from tools.sourcing.score import ScoreInput, score
from tools.sourcing.situation import Situation
from tools.view import NetworkView

# The greedy prices an order's nearest nodes in one block (enough for nearly every order).
GREEDY_PRICE_BLOCK = 8


def greedy_candidate(
    view: NetworkView,
    situation: Situation,
    order_id: str,
    priorities: BusinessPriorities,
    limits: SourcingLimits,
) -> Candidate | None:
    """The static rule's choice for one order (None when no node has the stock)."""
    order = view.orders.get(order_id)
    if order is None:
        raise UnknownOrderError(order_id)
    ctx = OrderContext(view, situation, order, priorities, limits)
    lines = order_lines(order)
    nodes = sorted(
        (
            great_circle_km(
                view.nodes[n].lat, view.nodes[n].lon, order.ship_to.lat, order.ship_to.lon
            ),
            n,
        )
        for n in ctx.new_work_nodes()
        if ctx.covers(n, lines)
    )
    for _, node_id in nodes:
        quotes = ctx.quotes(node_id, lines)
        if not quotes:
            continue
        q = quotes[0]  # cheapest legal service
        leg = leg_of(q, lines, new_work=True)
        sc = score(view, order, priorities, ScoreInput(legs=[leg]))
        delta = round(q.cost - current_cost(view, order), 2)
        action = Action(
            type=ActionType.REALLOCATE,
            order=order_id,
            node=node_id,
            carrier_service=q.carrier_service,
            lines=[ActionLine(sku=s, qty=n) for s, n in lines],
            cost_delta=delta,
            eta=q.eta,
            from_node=ctx.current_node,
            reason="static rule: nearest node with stock, cheapest service",
        )
        return Candidate(
            id=f"{order_id}:static",
            kind="static_rule",
            summary=(
                f"Static rule: ship {order_id} from {node_id} (nearest with stock) by "
                f"{q.carrier_service}: {delta:+.2f}, {q.on_time_probability:.0%} on time"
            ),
            actions=[action],
            orders=[order_id],
            score=sc,
            cost_delta=delta,
            eta=q.eta,
            on_time_probability=round(q.on_time_probability, 4),
            units_by_node={node_id: order.units},
            capacity_by_node={node_id: order.units},
        )
    return None


class GreedyChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: str
    kind: str  # keep | reallocate | backorder
    node: str | None
    carrier_service: str | None
    expected_cost: float


class GreedyPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choices: list[GreedyChoice]
    total_expected_cost: float
    capacity_violations: list[str]  # "NODE: units over its room"
    uncovered: list[str]
    seconds: float


def greedy_batch(
    view: NetworkView,
    situation: Situation,
    priorities: BusinessPriorities,
    limits: SourcingLimits,
) -> GreedyPlan:
    """The static rule applied to every affected order of a batch (module docstring)."""
    t0 = time.perf_counter()
    orders = [view.orders[o] for o in situation.affected_orders if o in view.orders]
    pricer = BatchPricer(view, situation, priorities, limits, orders)
    eligible = pricer.eligible(respect_room=False)
    dist = haversine_km(
        pricer.node_lat[None, :],
        pricer.node_lon[None, :],
        pricer.o_lat[:, None],
        pricer.o_lon[:, None],
    )
    dist = np.where(eligible, dist, np.inf)
    stock = {
        (n, s): float(pricer.atp[pricer.node_index[n], i])
        for n in pricer.node_ids
        for i, s in enumerate(pricer.sku_ids)
        if pricer.atp[pricer.node_index[n], i] > 0
    }
    added: dict[str, float] = {}
    n_svc = len(pricer.service_ids)
    choices: list[GreedyChoice | None] = [None] * len(orders)
    uncovered: list[str] = []
    # Which (node, service) pairs are legal for each order is independent of the stock used up
    # along the way: price each order's nodes lazily, a block of nearest nodes at a time.
    legal_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    order_by_dist = np.argsort(dist, axis=1, kind="stable")

    def cheapest_legal(i: int, n: int) -> tuple[int, float] | None:
        cached = legal_cache.get(i)
        if cached is None:
            near = order_by_dist[i, :GREEDY_PRICE_BLOCK]
            near = near[np.isfinite(dist[i, near])]
            o = np.repeat(np.full(len(near), i), n_svc)
            nn = np.repeat(near, n_svc)
            sv = np.tile(np.arange(n_svc, dtype=np.int64), len(near))
            priced, legal = pricer.price(o, nn, sv)
            cost = np.where(legal, priced.shipping + priced.handling, np.inf)
            cached = (nn, cost, priced.total)
            legal_cache[i] = cached
        nn, cost, total = cached
        at = np.flatnonzero(nn == n)
        if len(at) == 0:
            o = np.full(n_svc, i)
            priced, legal = pricer.price(o, np.full(n_svc, n), np.arange(n_svc, dtype=np.int64))
            c = np.where(legal, priced.shipping + priced.handling, np.inf)
            k = int(np.argmin(c))
            return (k, float(priced.total[k])) if np.isfinite(c[k]) else None
        k = int(np.argmin(cost[at]))
        if not np.isfinite(cost[at][k]):
            return None
        return k, float(total[at][k])

    for i, order in enumerate(orders):
        ctx = OrderContext(view, situation, order, priorities, limits)
        q = ctx.current_quote() if not ctx.broken and ctx.keeps_own_stock() else None
        if q is not None:
            sc = score(
                view,
                order,
                priorities,
                ScoreInput(legs=[leg_of(q, ctx.lines, new_work=False)]),
                explain=False,
            )
            choices[i] = GreedyChoice(
                order=order.id,
                kind="keep",
                node=q.node,
                carrier_service=q.carrier_service,
                expected_cost=sc.total,
            )
            continue
        lines = order_lines(order)
        picked = None
        for n in order_by_dist[i].tolist():
            if not np.isfinite(dist[i, n]):
                break
            node_id = pricer.node_ids[n]
            if any(stock.get((node_id, s), 0.0) < qty for s, qty in lines):
                continue
            best = cheapest_legal(i, n)
            if best is None:
                continue
            picked = (node_id, best[0], best[1])
            break
        if picked is None:
            uncovered.append(order.id)
            choices[i] = GreedyChoice(
                order=order.id,
                kind="backorder",
                node=None,
                carrier_service=None,
                expected_cost=backorder_penalty(ctx),
            )
            continue
        node_id, k, total = picked
        for s, qty in lines:
            stock[(node_id, s)] -= qty
        added[node_id] = added.get(node_id, 0.0) + order.units
        choices[i] = GreedyChoice(
            order=order.id,
            kind="reallocate",
            node=node_id,
            carrier_service=pricer.service_ids[k],
            expected_cost=total,
        )
    final = [c for c in choices if c is not None]
    violations = [
        f"{n}: {units:g} units for {pricer.room[pricer.node_index[n]]:g} of room"
        for n, units in sorted(added.items())
        if units > pricer.room[pricer.node_index[n]] + 1e-9
    ]
    return GreedyPlan(
        choices=final,
        total_expected_cost=round(sum(c.expected_cost for c in final), 2),
        capacity_violations=violations,
        uncovered=uncovered,
        seconds=round(time.perf_counter() - t0, 3),
    )
