"""`QuoteBook.legal` against quotes worked out by hand from the contract's formulas: every
legal service, each number as `illegal_reason`, `transit_days`, `days` and
`on_time_probability` give it, cheapest first (ties by service id)."""

from __future__ import annotations

import itertools

from tests.tools.sourcing.test_candidates_golden import bench_inputs
from tools.carriers import QuoteBook, illegal_reason, shipping_charge
from tools.geo import great_circle_km
from tools.network import NodeStatus
from tools.promise import (
    DAY,
    DEGRADED_NODE_RELIABILITY_FACTOR,
    days,
    departure_at,
    lane_disrupted,
    on_time_probability,
    ready_at,
    transit_days,
)
from tools.sourcing.options import release_for


def test_quote_book_is_the_formulas_by_hand() -> None:
    checked = 0
    for view, situation, order_id, _, _ in itertools.islice(bench_inputs(), 12):
        order = view.orders[order_id]
        ship_to, promised_by = order.ship_to, order.promised_by
        book = QuoteBook(view, ship_to, promised_by)
        for node_id, weight in itertools.product(view.nodes, (0.5, 7.0, 40.0)):
            node = view.nodes[node_id]
            release = release_for(view, situation, node_id)
            km = great_circle_km(node.lat, node.lon, ship_to.lat, ship_to.lon)
            expected = []
            for carrier in view.carriers.values():
                for service in carrier.services:
                    if illegal_reason(carrier, service, node, ship_to, weight, km):
                        continue
                    ready = ready_at(node, release)
                    assert ready is not None
                    departs = departure_at(ready, node.cutoff_hour_utc)
                    transit = transit_days(service, km)
                    arrives = departs + days(transit)
                    r = view.reliability(carrier.id, ship_to.region)
                    if node.status is NodeStatus.DEGRADED:
                        r *= DEGRADED_NODE_RELIABILITY_FACTOR
                    disrupted = lane_disrupted(carrier, node.region, ship_to.region)
                    p = on_time_probability(r, (promised_by - arrives) / DAY, transit, disrupted)
                    charge = shipping_charge(service, weight, km)
                    expected.append(
                        (
                            charge + node.handling_cost_per_order,
                            service.id,
                            carrier.id,
                            charge,
                            ready,
                            departs,
                            arrives,
                            transit,
                            r,
                            disrupted,
                            p,
                        )
                    )
            expected.sort(key=lambda e: (e[0], e[1]))
            got = [
                (
                    q.cost,
                    q.carrier_service,
                    q.carrier,
                    q.shipping_cost,
                    q.promise.ready_at,
                    q.promise.departs_at,
                    q.promise.arrives_at,
                    q.promise.transit_days,
                    q.promise.reliability,
                    q.disrupted,
                    q.on_time_probability,
                )
                for q in book.legal(node_id, weight, release)
            ]
            assert got == expected, (order_id, node_id, weight)
            for q in book.legal(node_id, weight, release):
                assert (q.node, q.weight_kg, q.handling_cost) == (
                    node_id,
                    weight,
                    node.handling_cost_per_order,
                )
                assert (q.promise.node, q.promise.carrier, q.promise.carrier_service) == (
                    node_id,
                    q.carrier,
                    q.carrier_service,
                )
                assert q.promise.promised_by == promised_by
                assert q.promise.distance_km == km
                assert (q.level, q.mode) == (
                    view.services[q.carrier_service][1].level,
                    view.services[q.carrier_service][1].mode,
                )
            checked += len(got)
    assert checked > 100
