"""The carrier tool, quoting side: cost, transit and on-time probability of every service that
can legally carry a shipment from a node to a customer.

A service is legal for a shipment when the weight fits `max_weight_kg`, the great-circle
distance fits `max_distance_km` (null = no limit), the carrier serves both the origin and the
destination region, the node ships at all (not closed, some capacity) and, unless asked, the
lane is not disrupted. Booking lives in `tools.booking`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tools.geo import great_circle_km
from tools.network import (
    Carrier,
    CarrierService,
    Node,
    NodeStatus,
    Order,
    ServiceLevel,
    ShipTo,
    TransportMode,
)
from tools.promise import (
    PromiseEstimate,
    departure_at,
    estimate,
    estimates_departing,
    lane_disrupted,
    ready_at,
)
from tools.view import NetworkView


@dataclass(frozen=True, slots=True)
class Quote:
    node: str
    carrier: str
    carrier_service: str
    level: ServiceLevel
    mode: TransportMode
    weight_kg: float
    shipping_cost: float
    handling_cost: float
    promise: PromiseEstimate

    @property
    def cost(self) -> float:
        """Shipment cost of the contract: carrier charge plus the node's handling per order."""
        return self.shipping_cost + self.handling_cost

    @property
    def distance_km(self) -> float:
        return self.promise.distance_km

    @property
    def eta(self) -> datetime:
        return self.promise.arrives_at

    @property
    def on_time_probability(self) -> float:
        return self.promise.on_time_probability

    @property
    def disrupted(self) -> bool:
        return self.promise.disrupted


def shipping_charge(service: CarrierService, weight_kg: float, distance_km: float) -> float:
    """base_rate + rate_per_kg * weight + rate_per_100km * km / 100."""
    return (
        service.base_rate
        + service.rate_per_kg * weight_kg
        + service.rate_per_100km * distance_km / 100.0
    )


def illegal_reason(
    carrier: Carrier,
    service: CarrierService,
    node: Node,
    ship_to: ShipTo,
    weight_kg: float,
    distance_km: float,
    include_disrupted: bool = False,
) -> str | None:
    """Why `service` cannot carry this shipment, or None when it can."""
    if node.status is NodeStatus.CLOSED:
        return f"node {node.id} is closed"
    if node.capacity_units_per_day <= 0:
        return f"node {node.id} has no capacity"
    if weight_kg > service.max_weight_kg:
        return f"{weight_kg:.1f} kg exceeds {service.id}'s {service.max_weight_kg:g} kg limit"
    if service.max_distance_km is not None and distance_km > service.max_distance_km:
        return f"{distance_km:.0f} km exceeds {service.id}'s {service.max_distance_km:g} km limit"
    if node.region not in carrier.regions:
        return f"{carrier.id} does not serve origin region {node.region}"
    if ship_to.region not in carrier.regions:
        return f"{carrier.id} does not serve destination region {ship_to.region}"
    if not include_disrupted and lane_disrupted(carrier, node.region, ship_to.region):
        return f"{carrier.id} is disrupted on {node.region}->{ship_to.region}"
    return None


def quote(
    view: NetworkView,
    node: Node,
    carrier: Carrier,
    service: CarrierService,
    ship_to: ShipTo,
    weight_kg: float,
    promised_by: datetime,
    release_at: datetime,
    added_backlog: int = 0,
) -> Quote | None:
    """Quote one service regardless of legality (None only if the node cannot ship at all)."""
    promise = estimate(
        node,
        carrier,
        service,
        ship_to,
        promised_by,
        release_at,
        reliability=view.reliability(carrier.id, ship_to.region),
        added_backlog=added_backlog,
    )
    if promise is None:
        return None
    return Quote(
        node=node.id,
        carrier=carrier.id,
        carrier_service=service.id,
        level=service.level,
        mode=service.mode,
        weight_kg=weight_kg,
        shipping_cost=shipping_charge(service, weight_kg, promise.distance_km),
        handling_cost=node.handling_cost_per_order,
        promise=promise,
    )


def legal_quotes(
    view: NetworkView,
    node_id: str,
    ship_to: ShipTo,
    weight_kg: float,
    promised_by: datetime,
    release_at: datetime,
    *,
    include_disrupted: bool = False,
    added_backlog: int = 0,
    carriers: Iterable[Carrier] | None = None,
) -> list[Quote]:
    """Every legal service from `node_id` to `ship_to`, cheapest first (ties by service id)."""
    node = view.nodes[node_id]
    km = great_circle_km(node.lat, node.lon, ship_to.lat, ship_to.lon)
    found: list[Quote] = []
    for carrier in carriers if carriers is not None else view.carriers.values():
        for service in carrier.services:
            if illegal_reason(carrier, service, node, ship_to, weight_kg, km, include_disrupted):
                continue
            q = quote(
                view,
                node,
                carrier,
                service,
                ship_to,
                weight_kg,
                promised_by,
                release_at,
                added_backlog,
            )
            if q is not None:
                found.append(q)
    found.sort(key=lambda q: (q.cost, q.carrier_service))
    return found


def _cost_then_service(q: Quote) -> tuple[float, str]:
    """Quotes' order: cheapest first, ties by service id."""
    return (q.shipping_cost + q.handling_cost, q.carrier_service)


# The services legal from a node to a destination whatever the weight: (carrier, services).
Routes = list[tuple[Carrier, list[CarrierService]]]


class QuoteBook:
    """`legal_quotes` to one destination by one promise, for many nodes and weights.

    A service's promise (ready, departure, transit, P(on time)) does not depend on the
    shipment's weight: it is worked out once per node and release time, and each weight asked
    for is priced and checked against the services' weight limits on top. Same quotes, in the
    same order, as `legal_quotes(view, node_id, ship_to, weight_kg, promised_by, release_at)`.
    """

    def __init__(self, view: NetworkView, ship_to: ShipTo, promised_by: datetime) -> None:
        self.view = view
        self.ship_to = ship_to
        self.promised_by = promised_by
        self._lanes: dict[
            tuple[str, datetime], list[tuple[Carrier, CarrierService, PromiseEstimate]]
        ] = {}
        self._routes: dict[str, tuple[float, Routes]] = {}

    def legal(self, node_id: str, weight_kg: float, release_at: datetime) -> list[Quote]:
        """Every legal service from the node for this weight, cheapest first (ties by id)."""
        lanes = self._lanes_of(node_id, release_at)
        handling = self.view.nodes[node_id].handling_cost_per_order
        found = [
            Quote(  # the fields in their order (the hot path)
                node_id,
                carrier.id,
                service.id,
                service.level,
                service.mode,
                weight_kg,
                shipping_charge(service, weight_kg, promise.distance_km),
                handling,
                promise,
            )
            for carrier, service, promise in lanes
            if not weight_kg > service.max_weight_kg
        ]
        found.sort(key=_cost_then_service)
        return found

    def lowest_charge(self, node_id: str, weight_kg: float) -> float | None:
        """The lowest carrier charge of the services `legal` would quote for this weight
        (whatever the release time: legality and charges do not depend on it); None when no
        service is legal. No quote of the node for this weight is charged less."""
        km, routes = self._routes_of(node_id)
        charges = [
            shipping_charge(service, weight_kg, km)
            for _, services in routes
            for service in services
            if not weight_kg > service.max_weight_kg
        ]
        return min(charges) if charges else None

    def _lanes_of(
        self, node_id: str, release_at: datetime
    ) -> list[tuple[Carrier, CarrierService, PromiseEstimate]]:
        key = (node_id, release_at)
        lanes = self._lanes.get(key)
        if lanes is None:
            lanes = self._lanes[key] = self._lanes_from(node_id, release_at)
        return lanes

    def _routes_of(self, node_id: str) -> tuple[float, Routes]:
        routes = self._routes.get(node_id)
        if routes is None:
            routes = self._routes[node_id] = self._routes_from(node_id)
        return routes

    def _routes_from(self, node_id: str) -> tuple[float, Routes]:
        """(distance, the services legal from the node whatever the weight and the release).
        `illegal_reason` at weight 0 (every weight limit passes: `legal` checks the real
        weight), its carrier-wide checks once per carrier."""
        view, ship_to = self.view, self.ship_to
        node = view.nodes[node_id]
        km = great_circle_km(node.lat, node.lon, ship_to.lat, ship_to.lon)
        if node.status is NodeStatus.CLOSED or node.capacity_units_per_day <= 0:
            return km, []  # the node does not ship: nothing is legal
        routes: Routes = []
        for carrier in view.carriers.values():
            if (
                node.region not in carrier.regions
                or ship_to.region not in carrier.regions
                or lane_disrupted(carrier, node.region, ship_to.region)
            ):
                continue
            services = [
                service
                for service in carrier.services
                if not service.max_weight_kg < 0.0
                and not (service.max_distance_km is not None and km > service.max_distance_km)
            ]
            if services:
                routes.append((carrier, services))
        return km, routes

    def _lanes_from(
        self, node_id: str, release_at: datetime
    ) -> list[tuple[Carrier, CarrierService, PromiseEstimate]]:
        """The services legal from the node whatever the weight, with their promises."""
        view, ship_to = self.view, self.ship_to
        node = view.nodes[node_id]
        km, routes = self._routes_of(node_id)
        ready = ready_at(node, release_at)
        if ready is None or not routes:
            return []
        departs = departure_at(ready, node.cutoff_hour_utc)
        lanes: list[tuple[Carrier, CarrierService, PromiseEstimate]] = []
        for carrier, services in routes:
            promises = estimates_departing(
                node,
                carrier,
                services,
                ship_to,
                self.promised_by,
                ready,
                departs,
                km,
                reliability=view.reliability(carrier.id, ship_to.region),
            )
            lanes.extend(zip([carrier] * len(services), services, promises, strict=True))
        return lanes


def current_quote(view: NetworkView, order: Order, release_at: datetime) -> Quote | None:
    """The order's current allocation, quoted as it stands (even if it is now illegal)."""
    if order.allocation is None:
        return None
    node = view.nodes.get(order.allocation.node)
    found = view.services.get(order.allocation.carrier_service)
    if node is None or found is None:
        return None
    carrier, service = found
    return quote(
        view,
        node,
        carrier,
        service,
        order.ship_to,
        view.order_weight_kg(order),
        order.promised_by,
        release_at,
    )


def current_cost(view: NetworkView, order: Order) -> float:
    """Shipment cost of the current allocation (0 when unallocated): the base of cost_delta."""
    if order.allocation is None:
        return 0.0
    node = view.nodes.get(order.allocation.node)
    found = view.services.get(order.allocation.carrier_service)
    if node is None or found is None:
        return 0.0
    _, service = found
    km = great_circle_km(node.lat, node.lon, order.ship_to.lat, order.ship_to.lon)
    return shipping_charge(service, view.order_weight_kg(order), km) + (
        node.handling_cost_per_order
    )
