"""Batch re-sourcing: plans within node capacity, stock and split limits, every time."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.tools.sourcing.builders import make_event, random_network
from tools.decisions import ActionType
from tools.network import NodeStatus
from tools.priorities import BusinessPriorities
from tools.sourcing.assignment import SolverSettings
from tools.sourcing.batch import BatchPlan, plan_batch
from tools.sourcing.greedy import greedy_batch
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.options import OrderContext, leg_of
from tools.sourcing.pricing import BatchPricer
from tools.sourcing.score import ScoreInput, score
from tools.sourcing.situation import Situation, apply_event
from tools.sourcing.synthetic import surge_network
from tools.view import NetworkView


def check_plan(view: NetworkView, sit: Situation, limits: SourcingLimits, plan: BatchPlan) -> None:
    """Capacity, stock and split limits hold; closed and avoided nodes get no work."""
    units: dict[str, int] = defaultdict(int)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    assert [p.order for p in plan.orders] == list(sit.affected_orders)
    for p in plan.orders:
        order = view.orders[p.order]
        if p.kind == "backorder":
            assert not p.after and p.order in {u.order for u in plan.uncovered}
            continue
        assert 1 <= len(p.after) <= limits.max_split_nodes
        shipped: dict[str, int] = defaultdict(int)
        for ship in p.after:
            node = view.nodes[ship.node]
            assert node.status is not NodeStatus.CLOSED
            assert ship.node not in sit.avoid(p.order)
            assert order.channel in node.channels
            for line in ship.lines:
                shipped[line.sku] += line.qty
                if p.kind not in ("keep", "upgrade_service", "rebook"):
                    taken[(ship.node, line.sku)] += line.qty
            if p.kind not in ("keep", "upgrade_service", "rebook"):
                units[ship.node] += sum(x.qty for x in ship.lines)
        assert dict(shipped) == dict(_lines(order))
    for node_id, added in units.items():
        node = view.nodes[node_id]
        assert added <= limits.capacity_left(node), node_id
    for (node_id, sku), qty in taken.items():
        assert qty <= view.atp(node_id, sku, include_safety_stock=not limits.respect_safety_stock)


def _lines(order) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    out: dict[str, int] = defaultdict(int)
    for line in order.lines:
        out[line.sku] += line.qty
    return list(out.items())


@given(
    seed=st.integers(0, 10_000),
    stock=st.sampled_from([0.3, 1.0, 3.0]),
    room=st.sampled_from([0.5, 1.0, 1.5]),
    split=st.integers(1, 3),
    util=st.sampled_from([0.6, 1.0, 1.3]),
    safety=st.booleans(),
    exact=st.booleans(),
)
# An order the LP left out, then placed beyond its shortlist for less than its backorder
# penalty: the plan came in under the shortlist's LP bound until the bound allowed for it.
@example(seed=2209, stock=3.0, room=0.5, split=1, util=1.3, safety=False, exact=False)
@settings(max_examples=40, deadline=None)
def test_every_plan_respects_capacity_stock_and_splits(
    seed: int, stock: float, room: float, split: int, util: float, safety: bool, exact: bool
) -> None:
    snapshot = random_network(seed, stock_scale=stock, room_scale=room, lines_max=3)
    limits = SourcingLimits(
        max_split_nodes=split, max_node_utilization=util, respect_safety_stock=safety
    )
    view, sit = apply_event(NetworkView.of(snapshot), make_event(type="node_outage", node="N0"))
    settings_ = SolverSettings(time_limit_s=10, mip_max_options=10_000 if exact else 0)
    plan = plan_batch(view, sit, BusinessPriorities(), limits, settings=settings_)
    check_plan(view, sit, limits, plan)
    candidate = plan.to_candidate()
    assert {a.order for a in candidate.actions} == set(sit.affected_orders)
    assert candidate.uncovered_orders == ([u.order for u in plan.uncovered] or None)
    if plan.gap_pct is not None:
        assert plan.gap_pct >= 0
        assert plan.lower_bound is not None
        assert plan.lower_bound <= plan.total_expected_cost_after + 1e-6


def test_cannot_cover_names_the_orders_left_over() -> None:
    snapshot = random_network(3, stock_scale=0.0, orders=5)
    view, sit = apply_event(NetworkView.of(snapshot), make_event(type="node_outage", node="N0"))
    plan = plan_batch(view, sit, BusinessPriorities(), SourcingLimits())
    assert not plan.feasible
    assert [u.order for u in plan.uncovered] == list(sit.affected_orders)
    assert all("no node can ship it" in u.reason for u in plan.uncovered)
    assert [u.order for u in plan.cannot_cover] == list(sit.affected_orders)
    candidate = plan.to_candidate()
    assert candidate.uncovered_orders == list(sit.affected_orders)
    assert {a.type for a in candidate.actions} == {
        ActionType.BACKORDER,
        ActionType.NOTIFY_CUSTOMER,
    }


def test_scarce_room_goes_to_the_orders_worth_it() -> None:
    snapshot = random_network(11, orders=30, room_scale=0.3, stock_scale=3.0)
    limits = SourcingLimits(max_node_utilization=0.9)
    view, sit = apply_event(NetworkView.of(snapshot), make_event(type="node_outage", node="N0"))
    plan = plan_batch(view, sit, BusinessPriorities(), limits)
    check_plan(view, sit, limits, plan)
    assert plan.uncovered  # not everyone fits
    assert any("capacity or stock" in u.reason for u in plan.uncovered)
    assert not plan.feasible and plan.cannot_cover


def test_example_events(view: NetworkView, example_event) -> None:  # type: ignore[no-untyped-def]
    prio, limits = BusinessPriorities(), SourcingLimits()
    new_view, sit = apply_event(view, example_event("EX-P2"))
    plan = plan_batch(new_view, sit, prio, limits)
    check_plan(new_view, sit, limits, plan)
    assert plan.feasible and plan.optimal and plan.gap_pct == 0.0
    for p in plan.orders:
        assert not p.after[0].carrier_service.startswith("SWIFT")
        assert p.before is not None and p.before.carrier_service == "SWIFT-GROUND"
    assert plan.total_expected_cost_after < plan.total_expected_cost_before

    new_view, sit = apply_event(view, example_event("EX-P3"))
    plan = plan_batch(new_view, sit, prio, limits)
    (o1003,) = plan.orders
    assert o1003.kind == "reallocate" and o1003.after[0].node not in ("MKT-NEWARK", "3PL-EAST")

    new_view, sit = apply_event(view, example_event("EX-P4"))
    plan = plan_batch(new_view, sit, prio, limits)
    assert [u.order for u in plan.uncovered] == ["O-1004"]


def test_batch_options_price_like_the_single_order_path(view: NetworkView) -> None:
    """The vectorised pricer and the scalar quote + score agree option by option."""
    prio, limits = BusinessPriorities(), SourcingLimits()
    new_view, sit = apply_event(
        view, make_event(type="node_overload", node="STORE-BOS", details={"backlog_units": 390})
    )
    orders = [new_view.orders[o] for o in new_view.orders]
    sit = Situation.for_orders(new_view, [o.id for o in orders])
    pricer = BatchPricer(new_view, sit, prio, limits, orders)
    n_nodes, n_svc = len(pricer.node_ids), len(pricer.service_ids)
    o = np.repeat(np.arange(len(orders)), n_nodes * n_svc)
    n = np.tile(np.repeat(np.arange(n_nodes), n_svc), len(orders))
    s = np.tile(np.arange(n_svc), len(orders) * n_nodes)
    priced, legal = pricer.price(o, n, s)
    compared = 0
    for i in range(len(o)):
        order = orders[o[i]]
        ctx = OrderContext(new_view, sit, order, prio, limits)
        node_id = pricer.node_ids[n[i]]
        quotes = {q.carrier_service: q for q in ctx.quotes(node_id, ctx.lines)}
        service = pricer.service_ids[s[i]]
        assert bool(legal[i]) == (service in quotes), (order.id, node_id, service)
        if service not in quotes:
            continue
        q = quotes[service]
        sc = score(new_view, order, prio, ScoreInput(legs=[leg_of(q, ctx.lines, new_work=True)]))
        assert priced.shipping[i] == pytest.approx(q.shipping_cost, abs=1e-9)
        assert priced.eta_s[i] == pytest.approx(q.eta.timestamp(), abs=1e-3)
        assert priced.p_on_time[i] == pytest.approx(q.on_time_probability, abs=1e-12)
        assert priced.total[i] == pytest.approx(sc.total, abs=1e-9)
        compared += 1
    assert compared > 50


def test_modest_surge_is_feasible_close_to_the_bound_and_beats_static_rules() -> None:
    snapshot, event = surge_network(orders=600, nodes=40, seed=5)
    prio, limits = BusinessPriorities(), SourcingLimits()
    view, sit = apply_event(NetworkView.of(snapshot), event)
    plan = plan_batch(view, sit, prio, limits, time_limit_s=30.0)
    check_plan(view, sit, limits, plan)
    assert len(plan.orders) == 600
    assert plan.gap_pct is not None and plan.gap_pct <= 1.0
    greedy = greedy_batch(view, sit, prio, limits)
    assert greedy.total_expected_cost > plan.total_expected_cost_after
    again = plan_batch(view, sit, prio, limits, time_limit_s=30.0)
    assert [p.model_dump() for p in again.orders] == [p.model_dump() for p in plan.orders]
    print(  # measured, not asserted: the machine is shared
        f"\n600-order surge: {plan.seconds:.2f} s, gap {plan.gap_pct:.3f} %, "
        f"static rules {greedy.total_expected_cost:.0f} vs {plan.total_expected_cost_after:.0f}"
    )
