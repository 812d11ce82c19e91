"""The static-rules baseline: nearest node with stock, cheapest legal service."""

from __future__ import annotations

from tests.tools.sourcing.builders import make_event, random_network
from tools.geo import great_circle_km
from tools.priorities import BusinessPriorities
from tools.sourcing.greedy import greedy_batch, greedy_candidate
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.options import OrderContext
from tools.sourcing.situation import apply_event
from tools.view import NetworkView


def test_nearest_node_with_stock_and_cheapest_service(view: NetworkView) -> None:
    prio, limits = BusinessPriorities(), SourcingLimits()
    new_view, sit = apply_event(view, make_event(type="node_outage", node="STORE-BOS"))
    cand = greedy_candidate(new_view, sit, "O-1001", prio, limits)
    assert cand is not None and cand.kind == "static_rule"
    order = new_view.orders["O-1001"]
    ctx = OrderContext(new_view, sit, order, prio, limits)
    stocked = [n for n in ctx.new_work_nodes() if ctx.covers(n, ctx.lines)]
    nearest = min(
        stocked,
        key=lambda n: great_circle_km(
            new_view.nodes[n].lat, new_view.nodes[n].lon, order.ship_to.lat, order.ship_to.lon
        ),
    )
    action = cand.actions[0]
    assert action.node == nearest == "STORE-CAM"
    cheapest = min(ctx.quotes(nearest, ctx.lines), key=lambda q: (q.cost, q.carrier_service))
    assert action.carrier_service == cheapest.carrier_service
    # It is priced under the same score as every other candidate.
    assert cand.score.total > 0 and cand.score.shipping == round(cheapest.shipping_cost, 2)


def test_no_stock_anywhere_gives_no_static_choice(view: NetworkView, example_event) -> None:  # type: ignore[no-untyped-def]
    new_view, sit = apply_event(view, example_event("EX-P4"))
    assert greedy_candidate(new_view, sit, "O-1004", BusinessPriorities(), SourcingLimits()) is None


def test_batch_ignores_capacity_and_says_so() -> None:
    snapshot = random_network(11, orders=30, room_scale=0.3, stock_scale=3.0)
    limits = SourcingLimits(max_node_utilization=0.9)
    view, sit = apply_event(NetworkView.of(snapshot), make_event(type="node_outage", node="N0"))
    plan = greedy_batch(view, sit, BusinessPriorities(), limits)
    assert [c.order for c in plan.choices] == list(sit.affected_orders)
    assert plan.capacity_violations  # static rules pile work on the nearest nodes
    assert all("units for" in v for v in plan.capacity_violations)
    # ... but never oversell: stock is used up as orders are taken in turn.
    taken: dict[tuple[str, str], int] = {}
    for choice in plan.choices:
        if choice.node is None:
            continue
        for line in view.orders[choice.order].lines:
            key = (choice.node, line.sku)
            taken[key] = taken.get(key, 0) + line.qty
    for (node, sku), qty in taken.items():
        assert qty <= view.atp(node, sku)
    assert plan.total_expected_cost == round(sum(c.expected_cost for c in plan.choices), 2)
