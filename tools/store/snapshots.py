"""Loading (or refreshing) a network snapshot into the store and exporting it back.

A refresh replaces the network atomically, in ONE write transaction: rows are upserted by id
(only those that changed are written), rows the new snapshot no longer has are deleted, and
the snapshot's list order is kept in `pos` columns so that an export reproduces it. Anything
that fails (a constraint, a lost connection) rolls the whole load back: the previous network
stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Table, and_, bindparam, delete, insert, update

from tools.network import NetworkSnapshot, Order
from tools.store.dialect import PG_LOAD_LOCK, advisory_xact_lock, chunks
from tools.store.engine import read_connection, write_connection
from tools.store.errors import NoNetwork
from tools.store.models import EntityChanges, LoadReport
from tools.store.network_rows import (
    AS_OF_KEY,
    LOADED_AT_KEY,
    carrier_values,
    line_values,
    node_values,
    order_values,
    position_values,
    read_as_of,
    read_carriers,
    read_inventory,
    read_nodes,
    read_orders,
    read_skus,
    service_values,
    sku_values,
    time_text,
)
from tools.store.schema import (
    CARRIERS,
    INVENTORY,
    META,
    NODES,
    ORDER_LINES,
    ORDERS,
    SERVICES,
    SKUS,
)


def export_snapshot(engine: Engine) -> NetworkSnapshot:
    """The network as it stands now (inventory, orders and backlog as mutated since loading)."""
    with read_connection(engine) as conn:
        snapshot = read_snapshot(conn)
    if snapshot is None:
        raise NoNetwork
    return snapshot


def read_snapshot(conn: Connection) -> NetworkSnapshot | None:
    as_of = read_as_of(conn)
    if as_of is None:
        return None
    return NetworkSnapshot(
        as_of=as_of,
        skus=read_skus(conn),
        nodes=read_nodes(conn),
        inventory=read_inventory(conn),
        carriers=read_carriers(conn),
        orders=read_orders(conn),
    )


@dataclass
class _Diff:
    """Rows to insert / update / delete for one table, and the counts for the report."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[Hashable] = field(default_factory=list)
    changes: EntityChanges = field(default_factory=EntityChanges)


M = TypeVar("M", bound=BaseModel)


def _diff(
    old: Sequence[M],
    new: Sequence[M],
    key: Callable[[M], Hashable],
    values: Callable[[M, int], dict[str, Any]],
    signature: Callable[[M], object] | None = None,
) -> _Diff:
    """What to write for one kind of entity. Two versions of an entity differ when their
    `signature` does (default: the row as stored, so the same instant written with another
    offset is a change too and the export shows the new text)."""
    sign = signature or (lambda item: values(item, 0))
    old_at = {key(item): (pos, item) for pos, item in enumerate(old)}
    diff = _Diff()
    added = updated = unchanged = 0
    seen = set()
    for pos, item in enumerate(new):
        k = key(item)
        seen.add(k)
        previous = old_at.get(k)
        row = values(item, pos)
        if previous is None:
            diff.inserts.append(row)
            added += 1
        elif sign(previous[1]) != sign(item):
            diff.updates.append(row)
            updated += 1
        else:
            unchanged += 1
            if previous[0] != pos:  # same entity, moved in the list: keep the new order
                diff.updates.append(row)
    diff.deletes = [k for k in old_at if k not in seen]
    diff.changes = EntityChanges(
        added=added, updated=updated, removed=len(diff.deletes), unchanged=unchanged
    )
    return diff


def _service_rows(snapshot: NetworkSnapshot) -> dict[str, dict[str, Any]]:
    """Carrier services as stored rows, by id (their position runs across carriers)."""
    pairs = ((c.id, svc) for c in snapshot.carriers for svc in c.services)
    return {svc.id: service_values(cid, svc, pos) for pos, (cid, svc) in enumerate(pairs)}


def _update_by(
    conn: Connection, table: Table, keys: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    where = and_(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
    params = [{**row, **{f"k_{k}": row[k] for k in keys}} for row in rows]
    conn.execute(update(table).where(where), params)


def _delete_ids(conn: Connection, table: Table, ids: list[Hashable]) -> None:
    for part in chunks([str(i) for i in ids]):
        conn.execute(delete(table).where(table.c.id.in_(part)))


def load_snapshot(engine: Engine, snapshot: NetworkSnapshot, now: datetime) -> LoadReport:
    """Load `snapshot`, or refresh the loaded network to it, in one transaction."""
    with write_connection(engine) as conn:
        advisory_xact_lock(conn, PG_LOAD_LOCK)
        previous = read_snapshot(conn)
        old = previous or NetworkSnapshot(
            as_of=snapshot.as_of, skus=[], nodes=[], inventory=[], carriers=[], orders=[]
        )
        skus = _diff(old.skus, snapshot.skus, lambda s: s.id, sku_values)
        nodes = _diff(old.nodes, snapshot.nodes, lambda n: n.id, node_values)
        carriers = _diff(  # a carrier changes when any of its services does
            old.carriers,
            snapshot.carriers,
            lambda c: c.id,
            carrier_values,
            lambda c: c.model_dump(mode="json"),
        )
        old_services = _service_rows(old)
        new_services = _service_rows(snapshot)
        inventory = _diff(
            old.inventory, snapshot.inventory, lambda p: (p.node, p.sku), position_values
        )
        orders = _diff(old.orders, snapshot.orders, lambda o: o.id, order_values)

        # Parents first: skus, nodes, carriers, services.
        for table, diff in ((SKUS, skus), (NODES, nodes), (CARRIERS, carriers)):
            if diff.inserts:
                conn.execute(insert(table), diff.inserts)
            _update_by(conn, table, ["id"], diff.updates)
        service_inserts = [row for sid, row in new_services.items() if sid not in old_services]
        service_updates = [
            row
            for sid, row in new_services.items()
            if sid in old_services and old_services[sid] != row
        ]
        if service_inserts:
            conn.execute(insert(SERVICES), service_inserts)
        _update_by(conn, SERVICES, ["id"], service_updates)

        # Then the rows that point at them.
        if inventory.inserts:
            conn.execute(insert(INVENTORY), inventory.inserts)
        _update_by(conn, INVENTORY, ["node", "sku"], inventory.updates)
        if orders.inserts:
            conn.execute(insert(ORDERS), orders.inserts)
        _update_by(conn, ORDERS, ["id"], orders.updates)
        by_id = {o.id: o for o in snapshot.orders}
        rewritten = [row["id"] for row in orders.updates]
        for part in chunks(rewritten):
            conn.execute(delete(ORDER_LINES).where(ORDER_LINES.c.order_id.in_(part)))
        new_lines = [
            line
            for row in orders.inserts + orders.updates
            for line in line_values(row["id"], _order(by_id, row["id"]).lines)
        ]
        if new_lines:
            conn.execute(insert(ORDER_LINES), new_lines)

        # Children of removed entities go before their parents.
        removed_orders = [str(k) for k in orders.deletes]
        for part in chunks(removed_orders):
            conn.execute(delete(ORDER_LINES).where(ORDER_LINES.c.order_id.in_(part)))
        _delete_ids(conn, ORDERS, orders.deletes)
        for position in inventory.deletes:
            node_id, sku_id = cast(tuple[str, str], position)
            conn.execute(
                delete(INVENTORY).where(INVENTORY.c.node == node_id, INVENTORY.c.sku == sku_id)
            )
        _delete_ids(conn, SERVICES, [sid for sid in old_services if sid not in new_services])
        _delete_ids(conn, CARRIERS, carriers.deletes)
        _delete_ids(conn, NODES, nodes.deletes)
        _delete_ids(conn, SKUS, skus.deletes)

        conn.execute(delete(META).where(META.c.key.in_([AS_OF_KEY, LOADED_AT_KEY])))
        conn.execute(
            insert(META),
            [
                {"key": AS_OF_KEY, "value": time_text(snapshot.as_of)},
                {"key": LOADED_AT_KEY, "value": time_text(now)},
            ],
        )
    return LoadReport(
        as_of=snapshot.as_of,
        previous_as_of=previous.as_of if previous else None,
        refreshed=previous is not None,
        changes={
            "skus": skus.changes,
            "nodes": nodes.changes,
            "inventory": inventory.changes,
            "carriers": carriers.changes,
            "orders": orders.changes,
        },
        loaded_at=now,
    )


def _order(by_id: dict[str, Order], order_id: Any) -> Order:
    return by_id[str(order_id)]
