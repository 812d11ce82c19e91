"""What an exception event tells us beyond the snapshot.

`apply_event(view, event)` returns a view with the event's facts applied (stock that went
missing, a closed node, a disrupted lane, a new backlog ...) and a `Situation`: which orders
are affected, which of their allocations cannot stand, which nodes or services they must
avoid, and the decision clock (`release_at` = when the event occurred, never the wall clock,
so a replay decides exactly as the original run did).

`details` is free-form JSON from the event's source: known keys are read defensively (a value
of the wrong type is ignored and said so in `notes`), other keys are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from tools.events import EventType, ExceptionEvent
from tools.inputs import InputError
from tools.network import ACTIONABLE_ORDER_STATUSES, NodeStatus, Order
from tools.view import NetworkView

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Situation:
    """The facts a decision about an event works from (see module docstring)."""

    release_at: datetime
    affected_orders: tuple[str, ...]
    avoid_nodes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unbookable_services: frozenset[str] = frozenset()
    current_allocation_broken: frozenset[str] = frozenset()
    not_before: Mapping[str, datetime] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Added: where the facts came from and why each allocation broke.
    event_id: str | None = None
    event_type: EventType | None = None
    broken_reasons: Mapping[str, str] = field(default_factory=dict)
    restock_at: datetime | None = None  # details.restock_at / restock_days, for backorders
    skipped_orders: tuple[str, ...] = ()  # named by the event but no longer actionable

    def avoid(self, order_id: str) -> frozenset[str]:
        return self.avoid_nodes.get(order_id, frozenset())

    def is_broken(self, order_id: str) -> bool:
        return order_id in self.current_allocation_broken

    @classmethod
    def for_orders(cls, view: NetworkView, order_ids: list[str] | tuple[str, ...]) -> Situation:
        """A situation with no event: the given orders, decided as of the snapshot time."""
        missing = [o for o in order_ids if o not in view.orders]
        if missing:
            raise InputError("orders", [f"unknown order {o!r}" for o in missing])
        return cls(release_at=view.as_of.astimezone(UTC), affected_orders=tuple(order_ids))


# -- reading `details` ------------------------------------------------------------------
def _detail_int(details: Mapping[str, Any], key: str, notes: list[str]) -> int | None:
    if key not in details or details[key] is None:
        return None
    value = details[key]
    number: float | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number < 0:
        notes.append(f"ignored details.{key}={value!r}: not a non-negative number")
        return None
    return int(number)


def _detail_datetime(details: Mapping[str, Any], key: str, notes: list[str]) -> datetime | None:
    value = details.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            notes.append(f"ignored details.{key}={value!r}: not an ISO-8601 time")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    notes.append(f"ignored details.{key}={value!r}: not an ISO-8601 time")
    return None


# A restock further out than this is not a plan anyone can promise against (and an absurd
# date, e.g. year 9999 from a hostile reading of free text, must not overflow date maths).
MAX_RESTOCK_DAYS = 365


def _restock(event: ExceptionEvent, notes: list[str]) -> datetime | None:
    """When the stock comes back (details.restock_at, or restock_days after the event), if
    within MAX_RESTOCK_DAYS of the event; anything further is ignored, with a note."""
    start = event.occurred_at.astimezone(UTC)
    restock = _detail_datetime(event.details, "restock_at", notes)
    if restock is None:
        days = _detail_int(event.details, "restock_days", notes)
        if days is None:
            return None
        if days > MAX_RESTOCK_DAYS:
            notes.append(f"ignored details.restock_days={days}: more than {MAX_RESTOCK_DAYS}")
            return None
        return start + timedelta(days=days)
    if restock - start > timedelta(days=MAX_RESTOCK_DAYS):
        notes.append(
            f"ignored details.restock_at={restock.isoformat()}: more than "
            f"{MAX_RESTOCK_DAYS} days after the event"
        )
        return None
    return restock


def _detail_str(details: Mapping[str, Any], key: str, notes: list[str]) -> str | None:
    value = details.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    notes.append(f"ignored details.{key}={value!r}: not a string")
    return None


# -- scope --------------------------------------------------------------------------------
def _check_references(view: NetworkView, event: ExceptionEvent) -> None:
    problems: list[str] = []
    for i, order_id in enumerate(event.orders):
        if order_id not in view.orders:
            problems.append(f"orders[{i}]: unknown order {order_id!r}")
    if event.node is not None and event.node not in view.nodes:
        problems.append(f"node: unknown node {event.node!r}")
    if event.carrier is not None and event.carrier not in view.carriers:
        problems.append(f"carrier: unknown carrier {event.carrier!r}")
    if event.sku is not None and event.sku not in view.skus:
        problems.append(f"sku: unknown sku {event.sku!r}")
    if problems:
        raise InputError("exception event", problems)


def _in_reach(view: NetworkView, event: ExceptionEvent, order: Order) -> bool:
    """Does a scoped event touch this order? Filters are ANDed."""
    if order.status not in ACTIONABLE_ORDER_STATUSES:
        return False
    alloc = order.allocation
    if event.node is not None and (alloc is None or alloc.node != event.node):
        return False
    if event.carrier is not None:
        found = view.services.get(alloc.carrier_service) if alloc else None
        if found is None or found[0].id != event.carrier:
            return False
        if event.region is not None:
            assert alloc is not None
            origin = view.nodes[alloc.node].region
            if event.region not in (origin, order.ship_to.region):
                return False
    elif event.region is not None and order.ship_to.region != event.region:
        return False
    return not (event.sku is not None and all(line.sku != event.sku for line in order.lines))


def _affected(
    view: NetworkView, event: ExceptionEvent, notes: list[str]
) -> tuple[list[Order], list[str]]:
    if event.orders:
        orders, skipped = [], []
        for order_id in event.orders:
            order = view.orders[order_id]
            if order.status in ACTIONABLE_ORDER_STATUSES:
                orders.append(order)
            else:
                skipped.append(order_id)
                notes.append(f"{order_id} is {order.status.value}: nothing left to act on")
        return orders, skipped
    return [o for o in view.snapshot.orders if _in_reach(view, event, o)], []


# -- the event types ------------------------------------------------------------------------
@dataclass
class _Changes:
    """World changes and facts collected while applying an event."""

    view: NetworkView
    event: ExceptionEvent
    orders: list[Order]
    notes: list[str]
    on_hand: dict[tuple[str, str], int] = field(default_factory=dict)
    node_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    disrupted: dict[str, set[str]] = field(default_factory=dict)
    avoid: dict[str, set[str]] = field(default_factory=dict)
    unbookable: set[str] = field(default_factory=set)
    broken: dict[str, str] = field(default_factory=dict)
    not_before: dict[str, datetime] = field(default_factory=dict)

    def order_node(self, order: Order) -> str | None:
        if self.event.node is not None:
            return self.event.node
        return order.allocation.node if order.allocation else None

    def allocated_at(self, order: Order, node: str | None) -> bool:
        return node is not None and order.allocation is not None and order.allocation.node == node

    def break_(self, order: Order, reason: str) -> None:
        self.broken.setdefault(order.id, reason)

    def avoid_node(self, order: Order, node: str) -> None:
        self.avoid.setdefault(order.id, set()).add(node)


def _short_pick(ch: _Changes) -> None:
    details, view = ch.event.details, ch.view
    short = _detail_int(details, "short_qty", ch.notes)
    missing: dict[tuple[str, str], int] = {}
    for order in ch.orders:
        node = ch.order_node(order)
        if node is None:
            ch.notes.append(f"{order.id}: short pick without a node (order not allocated)")
            continue
        skus = [ch.event.sku] if ch.event.sku else [line.sku for line in order.lines]
        for sku in skus:
            qty = sum(line.qty for line in order.lines if line.sku == sku)
            missing[(node, sku)] = missing.get((node, sku), 0) + qty
    for key in sorted(missing):
        gone = short if short is not None else missing[key]
        pos = view.position(*key)
        before = pos.on_hand if pos else 0
        ch.on_hand[key] = max(0, before - gone)
        ch.notes.append(
            f"{key[0]}: {gone} x {key[1]} missing, on hand {before} -> {ch.on_hand[key]}"
        )
    for order in ch.orders:
        node = ch.order_node(order)
        if not ch.allocated_at(order, node):
            continue
        assert node is not None
        for line in order.lines:
            key = (node, line.sku)
            if key not in ch.on_hand:
                continue
            pos = view.position(*key)
            reserved = pos.reserved if pos else 0
            others = max(0, reserved - line.qty)  # the order's own units count as reserved
            if ch.on_hand[key] < line.qty + others:
                ch.break_(order, f"short pick: {node} cannot cover {line.qty} x {line.sku}")
                break


def _stockout(ch: _Changes) -> None:
    for order in ch.orders:
        node = ch.order_node(order)
        if node is None:
            ch.notes.append(f"{order.id}: stockout without a node (order not allocated)")
            continue
        skus = [ch.event.sku] if ch.event.sku else [line.sku for line in order.lines]
        for sku in skus:
            if (node, sku) not in ch.on_hand:
                ch.on_hand[(node, sku)] = 0
                ch.notes.append(f"{node}: out of {sku}")
        if ch.allocated_at(order, node) and any(line.sku in skus for line in order.lines):
            ch.break_(order, f"stockout at {node}")


def _node_overload(ch: _Changes) -> None:
    details = ch.event.details
    backlog = _detail_int(details, "backlog_units", ch.notes)
    capacity = _detail_int(details, "capacity_units_per_day", ch.notes)
    nodes = {ch.order_node(o) for o in ch.orders} | ({ch.event.node} if ch.event.node else set())
    for node_id in sorted(n for n in nodes if n is not None):
        update: dict[str, Any] = {}
        if backlog is not None:
            update["backlog_units"] = backlog
        if capacity is not None:
            update["capacity_units_per_day"] = capacity
        ch.node_updates.setdefault(node_id, {}).update(update)
        node = ch.view.nodes[node_id]
        cap = update.get("capacity_units_per_day", node.capacity_units_per_day)
        load = update.get("backlog_units", node.backlog_units)
        util = f"{100 * load / cap:.0f}%" if cap else "no capacity"
        ch.notes.append(f"{node_id} overloaded: backlog {load} units / {cap} per day ({util})")


def _node_outage(ch: _Changes) -> None:
    nodes = {ch.order_node(o) for o in ch.orders} | ({ch.event.node} if ch.event.node else set())
    for node_id in sorted(n for n in nodes if n is not None):
        ch.node_updates.setdefault(node_id, {})["status"] = NodeStatus.CLOSED
        ch.notes.append(f"{node_id} is closed")
    for order in ch.orders:
        node = ch.order_node(order)
        if ch.allocated_at(order, node):
            assert node is not None
            ch.break_(order, f"{node} is closed")
            ch.avoid_node(order, node)


def _cutoff_missed(ch: _Changes) -> None:
    explicit = _detail_datetime(ch.event.details, "next_departure_at", ch.notes)
    occurred = ch.event.occurred_at.astimezone(UTC)
    nodes = {ch.order_node(o) for o in ch.orders} | ({ch.event.node} if ch.event.node else set())
    for node_id in sorted(n for n in nodes if n is not None):
        if explicit is not None:
            ready = explicit
        else:
            hour = ch.view.nodes[node_id].cutoff_hour_utc
            ready = occurred.replace(hour=hour, minute=0, second=0, microsecond=0)
            if ready <= occurred:
                ready += DAY
        ch.not_before[node_id] = ready
        ch.notes.append(f"{node_id} missed its cut-off: next departure {ready:%a %d %b %H:%M} UTC")


def _carrier_disruption(ch: _Changes) -> None:
    view, event = ch.view, ch.event
    carriers = {event.carrier} if event.carrier else set()
    if not carriers:
        for order in ch.orders:
            found = (
                view.services.get(order.allocation.carrier_service) if order.allocation else None
            )
            if found:
                carriers.add(found[0].id)
    for carrier_id in sorted(carriers):
        carrier = view.carriers[carrier_id]
        regions = {event.region} if event.region else set(carrier.regions)
        ch.disrupted.setdefault(carrier_id, set()).update(regions)
        ch.notes.append(f"{carrier_id} disrupted in {', '.join(sorted(regions))}")
    for order in ch.orders:
        if order.allocation is None:
            continue
        found = view.services.get(order.allocation.carrier_service)
        if found is None or found[0].id not in ch.disrupted:
            continue
        carrier = found[0]
        regions = set(carrier.disrupted_regions) | ch.disrupted[carrier.id]
        origin = view.nodes[order.allocation.node].region
        if origin in regions or order.ship_to.region in regions:
            ch.break_(order, f"{carrier.id} is disrupted on {origin}->{order.ship_to.region}")


def _partner_rejected(ch: _Changes) -> None:
    for order in ch.orders:
        node = ch.order_node(order)
        if node is None:
            ch.notes.append(f"{order.id}: rejection without a node (order not allocated)")
            continue
        ch.avoid_node(order, node)
        ch.notes.append(f"{node} rejected {order.id}")
        if ch.allocated_at(order, node):
            ch.break_(order, f"{node} rejected the order")


def _booking_failed(ch: _Changes) -> None:
    view, event = ch.view, ch.event
    named = _detail_str(event.details, "carrier_service", ch.notes)
    if named is not None and named not in view.services:
        ch.notes.append(f"ignored details.carrier_service={named!r}: unknown service")
        named = None
    for order in ch.orders:
        if named is not None:
            services = {named}
        elif event.carrier is not None:
            services = {s.id for s in view.carriers[event.carrier].services}
        elif order.allocation is not None:
            services = {order.allocation.carrier_service}
        else:
            services = set()
        ch.unbookable.update(services)
        if order.allocation is not None and order.allocation.carrier_service in services:
            ch.break_(order, f"{order.allocation.carrier_service} cannot be booked")
    if ch.unbookable:
        ch.notes.append(f"cannot book: {', '.join(sorted(ch.unbookable))}")


def _sla_risk(ch: _Changes) -> None:
    ch.notes.append("promise at risk: keep, upgrade or move")


_HANDLERS: dict[EventType, Callable[[_Changes], None]] = {
    EventType.SHORT_PICK: _short_pick,
    EventType.STOCKOUT: _stockout,
    EventType.NODE_OVERLOAD: _node_overload,
    EventType.NODE_OUTAGE: _node_outage,
    EventType.CUTOFF_MISSED: _cutoff_missed,
    EventType.CARRIER_DISRUPTION: _carrier_disruption,
    EventType.SLA_RISK: _sla_risk,
    EventType.PARTNER_REJECTED: _partner_rejected,
    EventType.BOOKING_FAILED: _booking_failed,
}


def _changed_view(ch: _Changes) -> NetworkView:
    view = ch.view
    snap = view.snapshot
    if not (ch.on_hand or ch.node_updates or ch.disrupted):
        return view
    update: dict[str, Any] = {}
    if ch.on_hand:
        inventory = []
        for pos in snap.inventory:
            new = ch.on_hand.get((pos.node, pos.sku))
            if new is None:
                inventory.append(pos)
            else:
                inventory.append(
                    pos.model_copy(update={"on_hand": new, "reserved": min(pos.reserved, new)})
                )
        update["inventory"] = inventory
    if ch.node_updates:
        update["nodes"] = [
            n.model_copy(update=ch.node_updates[n.id]) if n.id in ch.node_updates else n
            for n in snap.nodes
        ]
    if ch.disrupted:
        carriers = []
        for c in snap.carriers:
            if c.id in ch.disrupted:
                regions = sorted(set(c.disrupted_regions) | ch.disrupted[c.id])
                carriers.append(c.model_copy(update={"disrupted_regions": regions}))
            else:
                carriers.append(c)
        update["carriers"] = carriers
    return NetworkView.of(
        snap.model_copy(update=update), view.carrier_reliability, view.node_accuracy
    )


def apply_event(view: NetworkView, event: ExceptionEvent) -> tuple[NetworkView, Situation]:
    """The view with the event's facts applied, and the situation they create."""
    if event.type is EventType.UNSTRUCTURED:
        raise ValueError(
            "an unstructured event is not for sourcing: perception must classify its text "
            "into a typed event first (or hand it to a person)"
        )
    _check_references(view, event)
    notes: list[str] = []
    orders, skipped = _affected(view, event, notes)
    ch = _Changes(view=view, event=event, orders=orders, notes=notes)
    _HANDLERS[event.type](ch)
    restock = _restock(event, notes)
    new_view = _changed_view(ch)
    if not orders:
        notes.append("no actionable order in the event's reach")
    return new_view, Situation(
        release_at=event.occurred_at.astimezone(UTC),
        affected_orders=tuple(o.id for o in orders),
        avoid_nodes=MappingProxyType({k: frozenset(v) for k, v in sorted(ch.avoid.items())}),
        unbookable_services=frozenset(ch.unbookable),
        current_allocation_broken=frozenset(ch.broken),
        not_before=MappingProxyType(dict(sorted(ch.not_before.items()))),
        notes=notes,
        event_id=event.id,
        event_type=event.type,
        broken_reasons=MappingProxyType(dict(sorted(ch.broken.items()))),
        restock_at=restock,
        skipped_orders=tuple(skipped),
    )
