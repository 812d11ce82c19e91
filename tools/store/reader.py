"""The reader API for the agents: a `NetworkView` of what a decision needs, scope queries."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, or_, select

from tools.network import (
    ACTIONABLE_ORDER_STATUSES,
    InventoryPosition,
    NetworkSnapshot,
    Node,
    Order,
    OrderStatus,
)
from tools.store.engine import in_unit_of_work, read_connection
from tools.store.errors import NoNetwork
from tools.store.learning import accuracy_posteriors, reliability_posteriors
from tools.store.network_rows import (
    node_from_row,
    position_from_row,
    read_as_of,
    read_carriers,
    read_inventory,
    read_nodes,
    read_orders,
    read_skus,
)
from tools.store.schema import INVENTORY, NODES, ORDER_LINES, ORDERS, SERVICES
from tools.store.view_cache import ViewCache, read_counters
from tools.view import NetworkView


def view(
    engine: Engine, order_ids: Collection[str] | None = None, cache: ViewCache | None = None
) -> NetworkView:
    """All nodes, carriers and SKUs; the given orders (ids not stored are left out) and the
    inventory of their SKUs at every node, or everything when `order_ids` is None; learned
    reliability and accuracy merged in. Read in one consistent transaction.

    With a `cache` (SQLite, outside a unit of work): parts whose tables did not change since
    they were read, and whole views whose tables did not change at all, are reused."""
    if cache is not None and in_unit_of_work(engine):
        cache = None
    with read_connection(engine) as conn:
        counters = read_counters(conn) if cache is not None else {}
        if cache is None or not counters:
            return _read_view(conn, order_ids, _uncached)
        key = ViewCache.key(counters, order_ids)
        found = cache.view(key)
        if found is not None:
            return found

        def part(name: str, tables: tuple[str, ...], read: Callable[[], T]) -> T:
            assert cache is not None
            return cache.part(name, tables, counters, read)

        found = _read_view(conn, order_ids, part)
    cache.keep(key, found)
    return found


T = TypeVar("T")
Part = Callable[[str, tuple[str, ...], Callable[[], T]], T]


def _uncached(name: str, tables: tuple[str, ...], read: Callable[[], T]) -> T:
    return read()


def _read_view(conn: Connection, order_ids: Collection[str] | None, part: Part[Any]) -> NetworkView:
    as_of = part("as_of", ("network_meta",), lambda: read_as_of(conn))
    if as_of is None:
        raise NoNetwork
    if order_ids is None:
        orders = part("orders", ("orders", "order_lines"), lambda: read_orders(conn))
        inventory = part("inventory", ("inventory",), lambda: read_inventory(conn))
    else:
        orders = read_orders(conn, order_ids)
        inventory = read_inventory(conn, {line.sku for o in orders for line in o.lines})
    snapshot = NetworkSnapshot(
        as_of=as_of,
        skus=part("skus", ("skus",), lambda: read_skus(conn)),
        nodes=part("nodes", ("nodes",), lambda: read_nodes(conn)),
        inventory=inventory,
        carriers=part("carriers", ("carriers", "carrier_services"), lambda: read_carriers(conn)),
        orders=orders,
    )
    reliability = part("reliability", ("lane_reliability",), lambda: reliability_posteriors(conn))
    accuracy = part("accuracy", ("node_accuracy",), lambda: accuracy_posteriors(conn))
    return NetworkView.of(snapshot, reliability, accuracy)


def orders_in_scope(
    engine: Engine,
    *,
    node: str | None = None,
    carrier: str | None = None,
    region: str | None = None,
    sku: str | None = None,
    statuses: Iterable[OrderStatus | str] | None = ACTIONABLE_ORDER_STATUSES,
) -> list[str]:
    """Ids of the orders an event's scope touches, all given filters ANDed, in snapshot order:
    `node`: allocated to it; `carrier`: allocated to one of its services; `region`: shipping
    to it or allocated at a node in it; `sku`: containing it; `statuses` (None: any)."""
    stmt = select(ORDERS.c.id)
    if node is not None:
        stmt = stmt.where(ORDERS.c.alloc_node == node)
    if carrier is not None:
        stmt = stmt.where(
            ORDERS.c.alloc_service.in_(select(SERVICES.c.id).where(SERVICES.c.carrier == carrier))
        )
    if region is not None:
        stmt = stmt.where(
            or_(
                ORDERS.c.ship_region == region,
                ORDERS.c.alloc_node.in_(select(NODES.c.id).where(NODES.c.region == region)),
            )
        )
    if sku is not None:
        stmt = stmt.where(
            ORDERS.c.id.in_(select(ORDER_LINES.c.order_id).where(ORDER_LINES.c.sku == sku))
        )
    if statuses is not None:
        stmt = stmt.where(ORDERS.c.status.in_(sorted(OrderStatus(s).value for s in statuses)))
    with read_connection(engine) as conn:
        return list(conn.execute(stmt.order_by(ORDERS.c.pos, ORDERS.c.id)).scalars())


def get_order(engine: Engine, order_id: str) -> Order | None:
    with read_connection(engine) as conn:
        found = read_orders(conn, [order_id])
    return found[0] if found else None


def has_network(engine: Engine) -> bool:
    with read_connection(engine) as conn:
        return read_as_of(conn) is not None


def get_node(engine: Engine, node_id: str) -> Node | None:
    with read_connection(engine) as conn:
        row = conn.execute(select(NODES).where(NODES.c.id == node_id)).first()
    return node_from_row(row) if row is not None else None


def get_position(engine: Engine, node_id: str, sku_id: str) -> InventoryPosition | None:
    with read_connection(engine) as conn:
        row = conn.execute(
            select(INVENTORY).where(INVENTORY.c.node == node_id, INVENTORY.c.sku == sku_id)
        ).first()
    return position_from_row(row) if row is not None else None
