"""Where one order could ship from, and how: the feasibility rules every sourcing tool shares.

`OrderContext` bundles an order with the situation and the limits and answers: which nodes may
take new work for it, whether a node's stock covers some lines, which carrier services may
legally carry them (the carrier tool's legality, minus unbookable services, carrier allow/deny
lists and hazmat-by-air), and the `Leg` the score prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from tools.carriers import Quote, QuoteBook, legal_quotes, quote
from tools.network import NodeStatus, Order, ShipTo
from tools.priorities import BusinessPriorities
from tools.promise import ready_at
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.score import Leg
from tools.sourcing.situation import Situation
from tools.view import NetworkView

Lines = tuple[tuple[str, int], ...]


def order_lines(order: Order) -> Lines:
    """The order's lines as (sku, qty), quantities of a repeated SKU added up, in order."""
    qty: dict[str, int] = {}
    for line in order.lines:
        qty[line.sku] = qty.get(line.sku, 0) + line.qty
    return tuple(qty.items())


def release_for(view: NetworkView, situation: Situation, node_id: str) -> datetime:
    """The release time that makes the node ready no earlier than its `not_before` (e.g. the
    next cut-off after a missed one); otherwise the situation's release time."""
    release = situation.release_at
    earliest = situation.not_before.get(node_id)
    node = view.nodes.get(node_id)
    if earliest is None or node is None:
        return release
    ready = ready_at(node, release)
    if ready is None or ready >= earliest:
        return release
    return release + (earliest - ready)


@dataclass(frozen=True)
class OrderContext:
    view: NetworkView
    situation: Situation
    order: Order
    priorities: BusinessPriorities
    limits: SourcingLimits
    # `quotes` to the order's address by (node, weight, hazmat, release): one context lives for
    # one decision over a frozen view, and its tools ask the same nodes again and again.
    _quotes: dict[tuple[str, float, bool, datetime], list[Quote]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    _available: dict[tuple[str, str], int] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @cached_property
    def lines(self) -> Lines:
        return order_lines(self.order)

    @cached_property
    def quote_book(self) -> QuoteBook:
        """Legal quotes to the order's address by its promise, memoised per node."""
        return QuoteBook(self.view, self.order.ship_to, self.order.promised_by)

    @property
    def units(self) -> int:
        return self.order.units

    @property
    def current_node(self) -> str | None:
        alloc = self.order.allocation
        return alloc.node if alloc and alloc.node in self.view.nodes else None

    @property
    def current_service(self) -> str | None:
        alloc = self.order.allocation
        return (
            alloc.carrier_service if alloc and alloc.carrier_service in self.view.services else None
        )

    @property
    def broken(self) -> bool:
        return self.situation.is_broken(self.order.id)

    def keeps_own_stock(self) -> bool:
        """Is the order's stock still at its current node (its allocation stands there)?

        True when the node is open, not to be avoided, and its on-hand covers the order's
        quantity on top of the other reservations (the order's own units count among the
        node's reserved units)."""
        node_id = self.current_node
        if node_id is None or node_id in self.situation.avoid(self.order.id):
            return False
        node = self.view.nodes[node_id]
        if node.status is NodeStatus.CLOSED or node.capacity_units_per_day <= 0:
            return False
        return all(self.own_line_there(node_id, sku, qty) for sku, qty in self.lines)

    def own_line_there(self, node_id: str, sku: str, qty: int) -> bool:
        """Does the node still hold this line for the order (see `keeps_own_stock`)?"""
        pos = self.view.position(node_id, sku)
        return pos is not None and pos.on_hand >= qty + max(0, pos.reserved - qty)

    def may_use_node(self, node_id: str) -> bool:
        """May this node serve the order at all (status, channel, avoid list, policy)?"""
        node = self.view.nodes[node_id]
        return (
            node.status is not NodeStatus.CLOSED
            and node.capacity_units_per_day > 0
            and self.order.channel in node.channels
            and node_id not in self.situation.avoid(self.order.id)
            and self.limits.node_may_serve(node, self.order.channel)
        )

    def has_room(self, node_id: str, units: int) -> bool:
        """Can the node take `units` more without passing `max_node_utilization`?"""
        return self.limits.capacity_left(self.view.nodes[node_id]) >= units

    def available(self, node_id: str, sku: str) -> int:
        """Units of `sku` the node may promise to new work (ATP under the policy)."""
        key = (node_id, sku)
        units = self._available.get(key)
        if units is None:
            units = self._available[key] = self.view.atp(
                node_id, sku, include_safety_stock=not self.limits.respect_safety_stock
            )
        return units

    def covers(self, node_id: str, lines: Sequence[tuple[str, int]]) -> bool:
        return all(self.available(node_id, sku) >= qty for sku, qty in lines)

    def new_work_nodes(self) -> list[str]:
        """Nodes that may take this order as new work (any stock), in snapshot order."""
        return list(self._new_work_nodes)

    @cached_property
    def _new_work_nodes(self) -> tuple[str, ...]:
        return tuple(n for n in self.view.nodes if self.may_use_node(n))

    def quotes(
        self,
        node_id: str,
        lines: Sequence[tuple[str, int]],
        ship_to: ShipTo | None = None,
        release: datetime | None = None,
    ) -> list[Quote]:
        """Legal, bookable, policy-allowed services for these lines from the node."""
        view = self.view
        hazmat = view.is_hazmat(sku for sku, _ in lines)
        weight = view.lines_weight_kg(lines)
        release = release or release_for(view, self.situation, node_id)
        if ship_to is not None:
            found = legal_quotes(view, node_id, ship_to, weight, self.order.promised_by, release)
            return self._allowed(node_id, ship_to, hazmat, found)
        key = (node_id, weight, hazmat, release)
        allowed = self._quotes.get(key)
        if allowed is None:
            found = self.quote_book.legal(node_id, weight, release)
            allowed = self._quotes[key] = self._allowed(node_id, self.order.ship_to, hazmat, found)
        return list(allowed)

    def _allowed(
        self, node_id: str, destination: ShipTo, hazmat: bool, found: list[Quote]
    ) -> list[Quote]:
        node = self.view.nodes[node_id]
        return [
            q
            for q in found
            if q.carrier_service not in self.situation.unbookable_services
            and self.limits.mode_allowed(q.mode, hazmat)
            and self.limits.carrier_allowed(q.carrier, node.region, destination.region)
        ]

    def current_quote(self) -> Quote | None:
        """The current allocation quoted as it stands (None if it cannot ship at all)."""
        node_id, service_id = self.current_node, self.current_service
        if node_id is None or service_id is None:
            return None
        carrier, service = self.view.services[service_id]
        return quote(
            self.view,
            self.view.nodes[node_id],
            carrier,
            service,
            self.order.ship_to,
            self.view.order_weight_kg(self.order),
            self.order.promised_by,
            release_for(self.view, self.situation, node_id),
        )


def leg_of(q: Quote, lines: Sequence[tuple[str, int]], *, new_work: bool) -> Leg:
    """The score's view of a quoted shipment. `new_work`: the node picks it as extra work and
    takes the stock (False for the order's own allocation: keep, upgrade, rebook)."""
    promise = q.promise
    # Every field is given and already of its type: filled in directly, as `Leg(...)` would
    # (a frozen dataclass's __init__ sets its fields one by one; this is the hot path).
    leg = object.__new__(Leg)
    leg.__dict__.update(
        node=q.node,
        carrier_service=q.carrier_service,
        lines=tuple(lines),
        shipping=q.shipping_cost,
        handling=q.handling_cost,
        on_time_probability=promise.on_time_probability,
        eta=promise.arrives_at,
        distance_km=promise.distance_km,
        added_units=sum(qty for _, qty in lines) if new_work else 0,
        takes_stock=True,
        reliability=promise.reliability,
        transit_days=promise.transit_days,
        disrupted=promise.disrupted,
    )
    return leg
