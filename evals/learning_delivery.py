"""Delivering what the resolver executed, under the truth: which shipments a decision leaves,
and when each really arrives (the promise model's shape, the TRUE on-time probability)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from tools.decisions import ActionType, Decision
from tools.geo import great_circle_km
from tools.network import NetworkSnapshot, Order
from tools.promise import (
    DISRUPTION_DELAY_FACTOR,
    DISRUPTION_RELIABILITY_FACTOR,
    LATE_DELAY_MEDIAN_PER_TRANSIT_DAY,
    LATE_DELAY_MIN_MEDIAN_DAYS,
    LATE_DELAY_SIGMA,
    estimate,
    transit_days,
)
from tools.view import lane_key


@dataclass(frozen=True)
class Shipment:
    node: str
    carrier: str
    carrier_service: str
    eta: datetime


@dataclass(frozen=True)
class Delivery:
    shipment: Shipment | None
    arrived_at: datetime | None
    on_time: bool
    true_reliability: float | None


def shipments_of(decision: Decision, order_id: str, snapshot: NetworkSnapshot) -> list[Shipment]:
    """The customer shipments an executed decision leaves for the order (split legs each)."""
    carrier_of = {s.id: c.id for c in snapshot.carriers for s in c.services}
    found: list[Shipment] = []
    for action in decision.actions:
        if action.order not in (None, order_id) and order_id not in (action.orders or []):
            continue
        if action.type is ActionType.SPLIT and action.legs:
            found = [
                Shipment(leg.node, carrier_of[leg.carrier_service], leg.carrier_service, leg.eta)
                for leg in action.legs
                if leg.eta is not None
            ]
        elif (
            action.type
            in (
                ActionType.HOLD,
                ActionType.REALLOCATE,
                ActionType.UPGRADE_SERVICE,
                ActionType.BOOK_CARRIER,
                ActionType.REPROMISE,
                ActionType.BACKORDER,
            )
            and action.node
            and action.carrier_service
            and action.eta is not None
        ):
            found = [
                Shipment(
                    action.node,
                    carrier_of[action.carrier_service],
                    action.carrier_service,
                    action.eta,
                )
            ]
    return found


def new_promise(decision: Decision, order: Order) -> datetime:
    """The promise in force after a decision: the last re-promise of the order, if any."""
    promise = order.promised_by
    for action in decision.actions:
        if action.order == order.id and action.promised_by is not None:
            promise = action.promised_by
    return promise


def planned_shipment(order: Order, snapshot: NetworkSnapshot, release: datetime) -> Shipment:
    """How the order ships when nobody acted on it: its allocation, released at `release`."""
    assert order.allocation is not None
    nodes = {n.id: n for n in snapshot.nodes}
    services = {s.id: (c, s) for c in snapshot.carriers for s in c.services}
    carrier, service = services[order.allocation.carrier_service]
    est = estimate(
        nodes[order.allocation.node], carrier, service, order.ship_to, order.promised_by, release
    )
    assert est is not None
    return Shipment(est.node, carrier.id, service.id, est.arrives_at)


def deliver(
    shipment: Shipment,
    order: Order,
    snapshot: NetworkSnapshot,
    truth: dict[str, float],
    disrupted: bool,
    draws: tuple[float, float],
) -> Delivery:
    """Deliver one shipment under the truth: on its ETA with the true on-time probability,
    otherwise after a log-normal delay shaped like `tools.promise`'s model."""
    nodes = {n.id: n for n in snapshot.nodes}
    services = {s.id: s for c in snapshot.carriers for s in c.services}
    node = nodes[shipment.node]
    km = great_circle_km(node.lat, node.lon, order.ship_to.lat, order.ship_to.lon)
    transit = transit_days(services[shipment.carrier_service], km)
    r = truth.get(lane_key(shipment.carrier, order.ship_to.region), 0.9)
    if disrupted:
        r *= DISRUPTION_RELIABILITY_FACTOR
    u, z = draws
    delay_days = 0.0
    if u >= r:
        median = max(LATE_DELAY_MIN_MEDIAN_DAYS, LATE_DELAY_MEDIAN_PER_TRANSIT_DAY * transit)
        if disrupted:
            median *= DISRUPTION_DELAY_FACTOR
        delay_days = median * math.exp(LATE_DELAY_SIGMA * z)
    arrived = shipment.eta + timedelta(days=delay_days)
    return Delivery(shipment, arrived, arrived <= order.promised_by, r)
