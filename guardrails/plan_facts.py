"""What a plan would do to the network, derived once per evaluation from the plan and a view.

The rules never look at raw actions: they read these facts. Deriving them never raises on a
hostile plan; every unknown reference or inconsistency becomes an `integrity` problem (which
the evaluator turns into a deny) and is left out of the facts the other rules see.

Semantics (documented here because every rule depends on them):

- A *shipment* is work sent to a node for an order: a `split` leg, or a `reallocate`,
  `book_carrier`, `upgrade_service`, `repromise` (when it names a node or service) or `hold`
  action. Missing node/service default to the order's current allocation. Lines default to the
  order's lines. A shipment from a node other than the order's current allocation takes new
  stock and new pick capacity there; one from the current node takes none (the order already
  holds its units and its place in the backlog).
- A `book_carrier` or `repromise` for an order that another action of the plan ships
  (`reallocate`, `split`, `upgrade_service`, a `transfer_inventory` with a service) restates
  that shipment: its node and service are checked, but it takes no stock or capacity again.
- A `transfer_inventory` action moves its lines from `from_node` to `node` (default: the
  order's current node): stock and pick capacity are taken at `from_node`. When it names a
  `carrier_service`, that service carries the lines on to the customer from `node`.
- Cost of an order = the sum of its actions' `cost_delta`; an action naming several `orders`
  spreads its `cost_delta` evenly over them.
- Stock a plan takes = the shipments' and transfers' lines at their source nodes; when the
  candidate declares more units at a node (`units_by_node`) than its lines account for, the
  excess is checked against the node's total stock. Capacity a plan adds at a node = the larger
  of the candidate's `capacity_by_node` and the units its lines take there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from math import isfinite

from tools.decisions import Action, ActionType, Candidate
from tools.network import ACTIONABLE_ORDER_STATUSES, Order
from tools.view import NetworkView

DAY_SECONDS = 86_400.0

# Actions that send work to a node (see the module docstring).
SHIPPING_TYPES = frozenset(
    {
        ActionType.REALLOCATE,
        ActionType.SPLIT,
        ActionType.BOOK_CARRIER,
        ActionType.UPGRADE_SERVICE,
        ActionType.REPROMISE,
        ActionType.HOLD,
    }
)
# Actions that must name a node to make sense (directly, by legs, or by the current allocation).
NEEDS_NODE = frozenset({ActionType.REALLOCATE, ActionType.SPLIT})
# Actions that may restate a shipment another action of the plan makes for the same order
# (e.g. a re-promise naming the new node and service of the reallocation beside it).
RESTATING_TYPES = frozenset({ActionType.BOOK_CARRIER, ActionType.REPROMISE})
# Actions that move a promise.
PROMISE_TYPES = frozenset({ActionType.REPROMISE, ActionType.BACKORDER})
# Actions that ship an order themselves: another action of the plan for it only restates.
_SHIPS_ITSELF = SHIPPING_TYPES - RESTATING_TYPES - {ActionType.HOLD}


@dataclass(frozen=True, slots=True)
class Shipment:
    """Work one action sends to one node for one order (all ids known to the view)."""

    order: str
    node: str
    service: str | None
    lines: tuple[tuple[str, int], ...]
    action_index: int
    action_type: ActionType
    takes_from: str | None  # node whose stock and pick capacity the lines use (None: none new)
    is_transfer: bool = False  # a transfer_inventory (does not count as shipping the order)
    restates: bool = False  # repeats a shipment another action makes: takes nothing more


@dataclass(frozen=True, slots=True)
class PromiseChange:
    order: str
    action_type: ActionType
    days_later: float  # infinity when no new date is given


@dataclass(slots=True)
class PlanFacts:
    candidate: str
    integrity: list[tuple[str | None, str]] = field(default_factory=list)  # (order, reason)
    out_of_scope: list[tuple[str, str]] = field(default_factory=list)  # (order, reason)
    not_actionable: list[tuple[str, str]] = field(default_factory=list)  # (order, reason)
    touched_orders: list[str] = field(default_factory=list)  # sorted, unknown ids included
    orders: dict[str, Order] = field(default_factory=dict)  # known touched orders
    cost_by_order: dict[str, float] = field(default_factory=dict)
    plan_cost: float = 0.0
    shipments: list[Shipment] = field(default_factory=list)
    takes: dict[tuple[str, str], int] = field(default_factory=dict)  # (node, sku) -> units
    undeclared_units: dict[str, int] = field(default_factory=dict)  # node -> units beyond lines
    capacity_added: dict[str, int] = field(default_factory=dict)  # node -> units
    actions_by_node: dict[str, int] = field(default_factory=dict)  # node -> action count
    work_nodes: dict[str, list[str]] = field(default_factory=dict)  # node -> orders sent there
    promise_changes: list[PromiseChange] = field(default_factory=list)
    action_types: frozenset[ActionType] = frozenset()
    acting_orders: frozenset[str] = frozenset()  # orders an action other than hold changes
    acts: bool = False  # the plan does something beyond holding


class _Builder:
    """Accumulates facts action by action; every lookup tolerates unknown ids."""

    def __init__(self, plan: Candidate, view: NetworkView, scope: frozenset[str] | None) -> None:
        self.plan = plan
        self.view = view
        self.scope = scope
        self.facts = PlanFacts(candidate=plan.id)
        self.shipped: dict[tuple[str, str], int] = defaultdict(int)  # (order, sku) -> units
        self.takes: dict[tuple[str, str], int] = defaultdict(int)
        self.capacity: dict[str, int] = defaultdict(int)
        self.by_node: dict[str, int] = defaultdict(int)
        self.work: dict[str, set[str]] = defaultdict(set)
        self.costs: dict[str, float] = defaultdict(float)
        self.bad_orders: set[str] = set()
        self.action_nodes: set[str] = set()  # nodes the action being read sends work to
        self.seen_problems: set[tuple[str | None, str]] = set()
        # Orders another action ships (so book_carrier / repromise only restate the shipment).
        self.shipped_by_others: set[str] = {
            order
            for action in plan.actions
            if action.type in _SHIPS_ITSELF
            or (action.type is ActionType.TRANSFER_INVENTORY and action.carrier_service)
            for order in action.touched_orders()
        }

    def problem(self, order: str | None, reason: str) -> None:
        if (order, reason) not in self.seen_problems:
            self.seen_problems.add((order, reason))
            self.facts.integrity.append((order, reason))

    def known_node(self, node_id: str, order: str | None, what: str) -> bool:
        if node_id in self.view.nodes:
            return True
        self.problem(order, f"{what} names unknown node {node_id!r}")
        return False

    def known_service(self, service_id: str, order: str | None, what: str) -> bool:
        if service_id in self.view.services:
            return True
        self.problem(order, f"{what} names unknown carrier service {service_id!r}")
        return False

    def lines_of(
        self, raw: list[tuple[str, int]], order: Order, what: str
    ) -> tuple[tuple[str, int], ...] | None:
        lines: list[tuple[str, int]] = []
        ok = True
        for sku, qty in raw:
            if sku not in self.view.skus:
                self.problem(order.id, f"{what} names unknown SKU {sku!r}")
                ok = False
            else:
                lines.append((sku, qty))
        return tuple(lines) if ok else None

    def order_lines(self, order: Order) -> list[tuple[str, int]]:
        return [(line.sku, line.qty) for line in order.lines]

    def check_order_lines(
        self, order: Order, lines: tuple[tuple[str, int], ...], what: str
    ) -> bool:
        ordered = {line.sku for line in order.lines}
        for sku, _ in lines:
            if sku not in ordered:
                self.problem(order.id, f"{what}: {order.id} has no {sku} line")
                return False
        return True

    def add_shipment(self, shipment: Shipment) -> None:
        self.facts.shipments.append(shipment)
        self.work[shipment.node].add(shipment.order)
        self.action_nodes.add(shipment.node)
        if shipment.takes_from is not None:
            units = 0
            for sku, qty in shipment.lines:
                self.takes[(shipment.takes_from, sku)] += qty
                units += qty
            self.capacity[shipment.takes_from] += units
            self.work[shipment.takes_from].add(shipment.order)
            self.action_nodes.add(shipment.takes_from)
        if not (shipment.is_transfer or shipment.restates):
            for sku, qty in shipment.lines:
                self.shipped[(shipment.order, sku)] += qty

    def action(self, index: int, action: Action) -> None:
        what = f"action {index + 1} ({action.type.value})"
        order_ids = action.touched_orders()
        if not order_ids:
            self.problem(None, f"{what} names no order")
            return
        if not isfinite(action.cost_delta):
            self.problem(order_ids[0], f"{what} has a cost_delta that is not a number")
        else:
            share = action.cost_delta / len(order_ids)
            for order_id in order_ids:
                self.costs[order_id] += share
            self.facts.plan_cost += action.cost_delta
        named = [n for n in (action.node, action.from_node) if n] + [
            leg.node for leg in action.legs or []
        ]
        self.action_nodes = set()
        for node_id in dict.fromkeys(named):
            if self.known_node(node_id, order_ids[0], what):
                self.action_nodes.add(node_id)
        for service_id in action.carrier_services():
            self.known_service(service_id, order_ids[0], what)
        for leg in action.legs or []:
            if not isfinite(leg.cost):
                self.problem(order_ids[0], f"{what} has a leg cost that is not a number")
        if action.lines and len(order_ids) > 1 and action.type is not ActionType.NOTIFY_CUSTOMER:
            self.problem(order_ids[0], f"{what} names lines but spans {len(order_ids)} orders")
            return
        for order_id in order_ids:
            order = self.view.orders.get(order_id)
            if order is None:
                self.bad_orders.add(order_id)
                continue
            self.for_order(index, action, order, what)
        if action.type is not ActionType.HOLD:  # holding changes nothing: not rate limited
            for node_id in self.action_nodes:
                self.by_node[node_id] += 1

    def for_order(self, index: int, action: Action, order: Order, what: str) -> None:
        kind = action.type
        if kind in PROMISE_TYPES:
            later = promise_days_later(action.promised_by, order.promised_by)
            self.facts.promise_changes.append(PromiseChange(order.id, kind, later))
        if kind is ActionType.CANCEL_LINES:
            lines = self.lines_of([(ln.sku, ln.qty) for ln in action.lines], order, what)
            if lines is not None and self.check_order_lines(order, lines, what):
                ordered = {line.sku: line.qty for line in order.lines}
                for sku, qty in lines:
                    if qty > ordered[sku]:
                        self.problem(
                            order.id,
                            f"{what} cancels {qty} x {sku} but {order.id} ordered {ordered[sku]}",
                        )
        elif kind is ActionType.TRANSFER_INVENTORY:
            self.transfer(index, action, order, what)
        elif kind in SHIPPING_TYPES:
            self.shipping(index, action, order, what)

    def current_node(self, order: Order) -> str | None:
        return order.allocation.node if order.allocation else None

    def transfer(self, index: int, action: Action, order: Order, what: str) -> None:
        if not action.from_node:
            self.problem(order.id, f"{what} names no from_node")
            return
        if not action.lines:
            self.problem(order.id, f"{what} names no lines to move")
            return
        destination = action.node or self.current_node(order)
        if destination is None:
            self.problem(order.id, f"{what} names no destination node")
            return
        lines = self.lines_of([(ln.sku, ln.qty) for ln in action.lines], order, what)
        if lines is None or action.from_node not in self.view.nodes:
            return
        if destination not in self.view.nodes:
            return
        if action.from_node == destination:
            self.problem(order.id, f"{what} moves stock from {destination} to itself")
            return
        service = action.carrier_service
        if service is not None and service not in self.view.services:
            service = None
        self.add_shipment(
            Shipment(
                order.id, destination, service, lines, index, action.type, action.from_node, True
            )
        )

    def shipping(self, index: int, action: Action, order: Order, what: str) -> None:
        current = self.current_node(order)
        current_service = order.allocation.carrier_service if order.allocation else None
        legs: list[tuple[str, str | None, list[tuple[str, int]]]] = [
            (leg.node, leg.carrier_service, [(ln.sku, ln.qty) for ln in leg.lines])
            for leg in action.legs or []
        ]
        if not legs:
            node = action.node or current
            service = action.carrier_service or (current_service if node == current else None)
            if node is None:
                if action.type in NEEDS_NODE:
                    self.problem(order.id, f"{what} names no node and {order.id} has no allocation")
                elif action.carrier_service is not None:
                    self.problem(order.id, f"{what} books a service but {order.id} has no node")
                return
            if action.type is ActionType.REPROMISE and not (action.node or action.carrier_service):
                return  # a re-promise alone sends no work
            if service is None and action.type is not ActionType.HOLD:
                self.problem(order.id, f"{what} sends {order.id} to {node} with no carrier service")
                return
            legs = [(node, service, [(ln.sku, ln.qty) for ln in action.lines])]
        for node, service, raw_lines in legs:
            if node not in self.view.nodes or (
                service is not None and service not in self.view.services
            ):
                continue
            lines = self.lines_of(raw_lines or self.order_lines(order), order, what)
            if lines is None or not self.check_order_lines(order, lines, what):
                continue
            restates = action.type in RESTATING_TYPES and order.id in self.shipped_by_others
            new_work = node != current and action.type is not ActionType.HOLD and not restates
            self.add_shipment(
                Shipment(
                    order.id,
                    node,
                    service,
                    lines,
                    index,
                    action.type,
                    node if new_work else None,
                    restates=restates,
                )
            )

    def finish(self) -> PlanFacts:
        facts = self.facts
        plan = self.plan
        touched: list[str] = []
        for action in plan.actions:
            touched.extend(action.touched_orders())
        facts.touched_orders = sorted(set(touched))
        for order_id in sorted(self.bad_orders):
            self.problem(order_id, f"unknown order {order_id!r}")
        declared = set(plan.orders)
        for order_id in facts.touched_orders:
            if order_id not in declared:
                facts.out_of_scope.append(
                    (order_id, f"acts on {order_id}, which the plan does not list as its orders")
                )
            elif self.scope is not None and order_id not in self.scope:
                facts.out_of_scope.append(
                    (order_id, f"acts on {order_id}, which this exception does not concern")
                )
            order = self.view.orders.get(order_id)
            if order is None:
                continue
            facts.orders[order_id] = order
            if order.status not in ACTIONABLE_ORDER_STATUSES:
                facts.not_actionable.append(
                    (order_id, f"{order_id} is {order.status.value}: it can no longer be changed")
                )
        for (order_id, sku), qty in sorted(self.shipped.items()):
            order = facts.orders.get(order_id)
            if order is None:
                continue
            ordered = sum(line.qty for line in order.lines if line.sku == sku)
            if qty > ordered:
                self.problem(
                    order_id, f"ships {qty} x {sku} for {order_id}, which ordered {ordered}"
                )
        for mapping, label in (
            (plan.units_by_node, "units_by_node"),
            (plan.capacity_by_node, "capacity_by_node"),
        ):
            for node_id in sorted(mapping):
                if node_id not in self.view.nodes:
                    self.problem(None, f"{label} names unknown node {node_id!r}")
        if not plan.actions:
            self.problem(None, "the plan has no actions")
        if not isfinite(plan.cost_delta):
            self.problem(None, "the plan's cost_delta is not a number")
        facts.cost_by_order = {o: self.costs[o] for o in facts.touched_orders if o in facts.orders}
        facts.takes = dict(sorted(self.takes.items()))
        for node_id, units in sorted(plan.units_by_node.items()):
            derived = sum(q for (n, _), q in self.takes.items() if n == node_id)
            if node_id in self.view.nodes and units > derived:
                facts.undeclared_units[node_id] = units - derived
        capacity = dict(self.capacity)
        for node_id, units in plan.capacity_by_node.items():
            if node_id in self.view.nodes and units > capacity.get(node_id, 0):
                capacity[node_id] = units
        facts.capacity_added = dict(sorted(capacity.items()))
        facts.actions_by_node = dict(sorted(self.by_node.items()))
        facts.work_nodes = {n: sorted(orders) for n, orders in sorted(self.work.items())}
        facts.action_types = frozenset(a.type for a in plan.actions)
        facts.acting_orders = frozenset(
            o for a in plan.actions if a.type is not ActionType.HOLD for o in a.touched_orders()
        )
        facts.acts = any(a.type is not ActionType.HOLD for a in plan.actions)
        return facts


def derive(plan: Candidate, view: NetworkView, scope: frozenset[str] | None = None) -> PlanFacts:
    """The facts of `plan` against `view`; `scope` = the orders the exception concerns."""
    builder = _Builder(plan, view, scope)
    for index, action in enumerate(plan.actions):
        builder.action(index, action)
    return builder.finish()


def promise_days_later(new: datetime | None, old: datetime) -> float:
    """Days a promise moves later (negative: earlier); infinity when there is no new date."""
    if new is None:
        return float("inf")
    return (new - old).total_seconds() / DAY_SECONDS
