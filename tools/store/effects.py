"""Idempotent effects on the network, used by the resolver's act step.

Every effect takes a `key`. It runs in ONE write transaction together with its ledger row
(`tools.store.ledger`): applying the same key again changes nothing and returns the first
result (`replayed=True`); the same key with different arguments is a `KeyConflict`; an effect
that fails (unknown order, not enough stock...) raises and leaves nothing behind, not even its
key. Each effect records what it changed (`before`/`after`), and `compensate(key, new_key)`
applies its inverse, itself idempotent under `new_key`:

| effect                | compensation                                             |
|-----------------------|----------------------------------------------------------|
| reassign_order        | reassign_order back to the old allocation and status     |
| repromise_order       | repromise_order back to the old promise                  |
| set_order_status      | set_order_status back to the old status                  |
| cancel_order_lines    | restore_order_lines: the old lines and status            |
| add_backlog           | add_backlog of minus the units really added              |
| release_hold          | hold_stock: reserve again the units really released      |
| hold_stock            | release_hold of the units held                           |
| transfer_inventory    | transfer_inventory of the same units back                |
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from tools.decisions import ActionLine
from tools.network import Allocation, OrderLine, OrderStatus
from tools.store import ledger
from tools.store.dialect import insert_if_absent
from tools.store.driver_statements import DriverStatement
from tools.store.engine import read_connection, write_connection
from tools.store.errors import InsufficientStock, InvalidRequest, NotFound, StoreError
from tools.store.models import EffectResult
from tools.store.network_rows import parse_time, time_text
from tools.store.schema import INVENTORY, NODES, ORDER_LINES, ORDERS, SERVICES, SKUS

Apply = Callable[[Connection], tuple[str, dict[str, Any], dict[str, Any]]]


def _run(
    engine: Engine,
    kind: str,
    key: str,
    request: dict[str, Any],
    now: datetime,
    apply: Apply,
    compensates: str | None = None,
) -> EffectResult:
    with write_connection(engine) as conn:
        done = ledger.claim(conn, key, kind, request, now)
        if done is not None:
            return EffectResult.model_validate({**done, "replayed": True})
        target, before, after = apply(conn)
        result = EffectResult(
            key=key, kind=kind, target=target, before=before, after=after, compensates=compensates
        )
        ledger.finish(conn, key, request, result.model_dump(mode="json", exclude={"replayed"}))
        return result


# Statements of the hot path, built once and run on the driver.
_ORDER_FOR_UPDATE = DriverStatement(
    select(ORDERS).where(ORDERS.c.id == bindparam("k")).with_for_update()
)
_SET_ALLOCATION = DriverStatement(
    update(ORDERS)
    .where(ORDERS.c.id == bindparam("k"))
    .values(alloc_node=bindparam("n"), alloc_service=bindparam("s"), status=bindparam("st"))
)
_SET_PROMISE = DriverStatement(
    update(ORDERS).where(ORDERS.c.id == bindparam("k")).values(promised_by=bindparam("p"))
)
_SET_STATUS = DriverStatement(
    update(ORDERS).where(ORDERS.c.id == bindparam("k")).values(status=bindparam("st"))
)
_BACKLOG_FOR_UPDATE = DriverStatement(
    select(NODES.c.backlog_units).where(NODES.c.id == bindparam("k")).with_for_update()
)
_SET_BACKLOG = DriverStatement(
    update(NODES).where(NODES.c.id == bindparam("k")).values(backlog_units=bindparam("v"))
)
_AT = (INVENTORY.c.node == bindparam("n"), INVENTORY.c.sku == bindparam("s"))
_POSITION_FOR_UPDATE = DriverStatement(select(INVENTORY).where(*_AT).with_for_update())
_UNRESERVE = DriverStatement(
    update(INVENTORY).where(*_AT).values(reserved=INVENTORY.c.reserved - bindparam("q"))
)
_HOLD = DriverStatement(
    update(INVENTORY)
    .where(*_AT, INVENTORY.c.on_hand - INVENTORY.c.reserved >= bindparam("q"))
    .values(reserved=INVENTORY.c.reserved + bindparam("q"))
)


def _order_row(conn: Connection, order_id: str) -> Any:
    row = _ORDER_FOR_UPDATE.execute(conn, {"k": order_id}).first()
    if row is None:
        raise NotFound("order", order_id)
    return row


def _allocation(row: Any) -> dict[str, str] | None:
    if row.alloc_node is None or row.alloc_service is None:
        return None
    return {"node": row.alloc_node, "carrier_service": row.alloc_service}


def _status(value: OrderStatus | str, field: str = "status") -> OrderStatus:
    try:
        return OrderStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in OrderStatus)
        raise InvalidRequest(field, f"{value!r} is not one of {allowed}") from None


def _positive(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequest(field, f"must be a positive integer, got {value!r}")
    return value


_ID_OF = {
    t.name: DriverStatement(select(t.c.id).where(t.c.id == bindparam("k")))
    for t in (NODES, SERVICES, ORDERS, SKUS)
}


def _exists(conn: Connection, table: Any, ident: str) -> bool:
    return _ID_OF[table.name].execute(conn, {"k": ident}).first() is not None


# ---------------------------------------------------------------- orders


def reassign_order(
    engine: Engine,
    order_id: str,
    allocation: Allocation | None,
    status: OrderStatus | str,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Point the order at another node/service (or none) and set its status."""
    new_status = _status(status)
    alloc = allocation.model_dump() if allocation is not None else None
    request = {"order": order_id, "allocation": alloc, "status": new_status.value}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _order_row(conn, order_id)
        if allocation is not None:
            if not _exists(conn, NODES, allocation.node):
                raise InvalidRequest("allocation.node", f"unknown node {allocation.node!r}")
            if not _exists(conn, SERVICES, allocation.carrier_service):
                raise InvalidRequest(
                    "allocation.carrier_service",
                    f"unknown carrier service {allocation.carrier_service!r}",
                )
        before = {"allocation": _allocation(row), "status": row.status}
        _SET_ALLOCATION.execute(
            conn,
            {
                "k": order_id,
                "n": allocation.node if allocation else None,
                "s": allocation.carrier_service if allocation else None,
                "st": new_status.value,
            },
        )
        return order_id, before, {"allocation": alloc, "status": new_status.value}

    return _run(engine, "reassign_order", key, request, now, apply, compensates)


def repromise_order(
    engine: Engine,
    order_id: str,
    promised_by: datetime,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Give the order a new promised delivery time."""
    if promised_by.tzinfo is None:
        raise InvalidRequest("promised_by", "must be an aware datetime (with a time zone)")
    text = time_text(promised_by)
    request = {"order": order_id, "promised_by": text}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _order_row(conn, order_id)
        _SET_PROMISE.execute(conn, {"k": order_id, "p": text})
        return order_id, {"promised_by": row.promised_by}, {"promised_by": text}

    return _run(engine, "repromise_order", key, request, now, apply, compensates)


def set_order_status(
    engine: Engine,
    order_id: str,
    status: OrderStatus | str,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    new_status = _status(status)
    request = {"order": order_id, "status": new_status.value}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _order_row(conn, order_id)
        _SET_STATUS.execute(conn, {"k": order_id, "st": new_status.value})
        return order_id, {"status": row.status}, {"status": new_status.value}

    return _run(engine, "set_order_status", key, request, now, apply, compensates)


def _read_lines(conn: Connection, order_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(ORDER_LINES.c.sku, ORDER_LINES.c.qty, ORDER_LINES.c.unit_price)
        .where(ORDER_LINES.c.order_id == order_id)
        .order_by(ORDER_LINES.c.line_no)
    )
    return [{"sku": r.sku, "qty": r.qty, "unit_price": r.unit_price} for r in rows]


def _write_lines(conn: Connection, order_id: str, lines: list[dict[str, Any]]) -> None:
    conn.execute(delete(ORDER_LINES).where(ORDER_LINES.c.order_id == order_id))
    if lines:
        conn.execute(
            insert(ORDER_LINES),
            [{"order_id": order_id, "line_no": i, **line} for i, line in enumerate(lines)],
        )


def cancel_order_lines(
    engine: Engine,
    order_id: str,
    lines: list[ActionLine],
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Remove or reduce the given quantities of the order's lines (earliest lines first).

    When nothing would be left the order is cancelled instead: its status becomes
    `cancelled` and its lines stay as they were, as the record of what was cancelled (an
    order always has at least one line).
    """
    if not lines:
        raise InvalidRequest("lines", "name at least one line to cancel")
    wanted = [ActionLine.model_validate(line) for line in lines]
    request = {"order": order_id, "lines": [w.model_dump() for w in wanted]}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _order_row(conn, order_id)
        current = _read_lines(conn, order_id)
        remaining = [dict(line) for line in current]
        for i, cancel in enumerate(wanted):
            need = cancel.qty
            for line in remaining:
                if line["sku"] == cancel.sku and need > 0:
                    taken = min(need, line["qty"])
                    line["qty"] -= taken
                    need -= taken
            if need > 0:
                have = cancel.qty - need
                raise InvalidRequest(
                    f"lines[{i}].qty",
                    f"order {order_id} has only {have} unit(s) of {cancel.sku} left to cancel, "
                    f"asked for {cancel.qty}",
                )
        left = [line for line in remaining if line["qty"] > 0]
        before = {"lines": current, "status": row.status}
        if left:
            _write_lines(conn, order_id, left)
            after = {"lines": left, "status": row.status}
        else:
            conn.execute(
                update(ORDERS)
                .where(ORDERS.c.id == order_id)
                .values(status=OrderStatus.CANCELLED.value)
            )
            after = {"lines": current, "status": OrderStatus.CANCELLED.value}
        return order_id, before, after

    return _run(engine, "cancel_order_lines", key, request, now, apply, compensates)


def restore_order_lines(
    engine: Engine,
    order_id: str,
    lines: list[OrderLine],
    status: OrderStatus | str,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Put the order's lines and status back (the compensation of `cancel_order_lines`)."""
    if not lines:
        raise InvalidRequest("lines", "an order needs at least one line")
    new_status = _status(status)
    restored = [OrderLine.model_validate(line).model_dump() for line in lines]
    request = {"order": order_id, "lines": restored, "status": new_status.value}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _order_row(conn, order_id)
        for i, line in enumerate(restored):
            if not _exists(conn, SKUS, line["sku"]):
                raise InvalidRequest(f"lines[{i}].sku", f"unknown sku {line['sku']!r}")
        before = {"lines": _read_lines(conn, order_id), "status": row.status}
        _write_lines(conn, order_id, restored)
        _SET_STATUS.execute(conn, {"k": order_id, "st": new_status.value})
        return order_id, before, {"lines": restored, "status": new_status.value}

    return _run(engine, "restore_order_lines", key, request, now, apply, compensates)


# ---------------------------------------------------------------- nodes and stock


def add_backlog(
    engine: Engine,
    node_id: str,
    units: int,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Add units to a node's backlog (negative: take them off; the backlog never goes below 0).
    `after["applied"]` is the change really made."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise InvalidRequest("units", f"must be an integer, got {units!r}")
    request = {"node": node_id, "units": units}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _BACKLOG_FOR_UPDATE.execute(conn, {"k": node_id}).first()
        if row is None:
            raise NotFound("node", node_id)
        new = max(0, row.backlog_units + units)
        _SET_BACKLOG.execute(conn, {"k": node_id, "v": new})
        return (
            node_id,
            {"backlog_units": row.backlog_units},
            {"backlog_units": new, "applied": new - row.backlog_units},
        )

    return _run(engine, "add_backlog", key, request, now, apply, compensates)


def _position(conn: Connection, node_id: str, sku_id: str) -> Any:
    row = _POSITION_FOR_UPDATE.execute(conn, {"n": node_id, "s": sku_id}).first()
    if row is None:
        raise NotFound("inventory position", f"{node_id}/{sku_id}")
    return row


def release_hold(
    engine: Engine,
    node_id: str,
    sku_id: str,
    qty: int,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Free units an order held at a node: `reserved -= min(qty, reserved)`.
    `after["released"]` is the number of units really freed."""
    _positive(qty, "qty")
    request = {"node": node_id, "sku": sku_id, "qty": qty}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _position(conn, node_id, sku_id)
        released = min(qty, row.reserved)
        _UNRESERVE.execute(conn, {"n": node_id, "s": sku_id, "q": released})
        return (
            f"{node_id}/{sku_id}",
            {"reserved": row.reserved, "on_hand": row.on_hand},
            {"reserved": row.reserved - released, "on_hand": row.on_hand, "released": released},
        )

    return _run(engine, "release_hold", key, request, now, apply, compensates)


def hold_stock(
    engine: Engine,
    node_id: str,
    sku_id: str,
    qty: int,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Mark units at a node as held (`reserved += qty`) if that many are unreserved; safety
    stock may be used (this is how a released hold is put back)."""
    _positive(qty, "qty")
    request = {"node": node_id, "sku": sku_id, "qty": qty}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        row = _position(conn, node_id, sku_id)
        taken = _HOLD.execute(conn, {"n": node_id, "s": sku_id, "q": qty}).rowcount
        if taken != 1:
            raise InsufficientStock(node_id, sku_id, qty, row.on_hand - row.reserved)
        return (
            f"{node_id}/{sku_id}",
            {"reserved": row.reserved, "on_hand": row.on_hand},
            {"reserved": row.reserved + qty, "on_hand": row.on_hand, "held": qty},
        )

    return _run(engine, "hold_stock", key, request, now, apply, compensates)


def transfer_inventory(
    engine: Engine,
    from_node: str,
    to_node: str,
    sku_id: str,
    qty: int,
    key: str,
    now: datetime,
    compensates: str | None = None,
) -> EffectResult:
    """Move `qty` units on hand from one node to another. The source never goes below what
    it has reserved; the destination gets a new position if it had none."""
    _positive(qty, "qty")
    if from_node == to_node:
        raise InvalidRequest("to_node", "must differ from from_node")
    request = {"from_node": from_node, "to_node": to_node, "sku": sku_id, "qty": qty}

    def apply(conn: Connection) -> tuple[str, dict[str, Any], dict[str, Any]]:
        if not _exists(conn, NODES, to_node):
            raise NotFound("node", to_node)
        last_pos = conn.execute(select(func.max(INVENTORY.c.pos))).scalar()
        insert_if_absent(  # a new position goes after the loaded ones (race-safe)
            conn,
            INVENTORY,
            {
                "node": to_node,
                "sku": sku_id,
                "pos": (last_pos if last_pos is not None else -1) + 1,
                "on_hand": 0,
                "reserved": 0,
                "safety_stock": 0,
            },
        )
        # Lock both positions in node order: two opposite transfers cannot deadlock.
        rows = {
            row.node: row
            for row in conn.execute(
                select(INVENTORY)
                .where(INVENTORY.c.sku == sku_id, INVENTORY.c.node.in_([from_node, to_node]))
                .order_by(INVENTORY.c.node)
                .with_for_update()
            )
        }
        source = rows.get(from_node)
        if source is None:
            raise NotFound("inventory position", f"{from_node}/{sku_id}")
        if source.on_hand - source.reserved < qty:
            raise InsufficientStock(from_node, sku_id, qty, source.on_hand - source.reserved)
        dest_before = rows[to_node].on_hand
        conn.execute(
            update(INVENTORY)
            .where(INVENTORY.c.node == from_node, INVENTORY.c.sku == sku_id)
            .values(on_hand=INVENTORY.c.on_hand - qty)
        )
        conn.execute(
            update(INVENTORY)
            .where(INVENTORY.c.node == to_node, INVENTORY.c.sku == sku_id)
            .values(on_hand=INVENTORY.c.on_hand + qty)
        )
        return (
            f"{from_node}->{to_node}/{sku_id}",
            {"from_on_hand": source.on_hand, "to_on_hand": dest_before},
            {"from_on_hand": source.on_hand - qty, "to_on_hand": dest_before + qty, "moved": qty},
        )

    return _run(engine, "transfer_inventory", key, request, now, apply, compensates)


# ---------------------------------------------------------------- compensation


def compensate(engine: Engine, key: str, new_key: str, now: datetime) -> EffectResult:
    """Apply the inverse of the effect applied under `key`, idempotently under `new_key`."""
    with read_connection(engine) as conn:
        found = ledger.read(conn, key)
    if found is None:
        raise NotFound("effect", key)
    kind, payload = found
    req: dict[str, Any] = payload["request"]
    res = payload.get("result")
    if res is None:
        raise StoreError(f"effect {key!r} has no recorded result to compensate")
    before: dict[str, Any] = res["before"]
    after: dict[str, Any] = res["after"]
    if kind == "reassign_order":
        alloc = before["allocation"]
        return reassign_order(
            engine,
            req["order"],
            Allocation.model_validate(alloc) if alloc else None,
            before["status"],
            new_key,
            now,
            compensates=key,
        )
    if kind == "repromise_order":
        return repromise_order(
            engine, req["order"], parse_time(before["promised_by"]), new_key, now, key
        )
    if kind == "set_order_status":
        return set_order_status(engine, req["order"], before["status"], new_key, now, key)
    if kind in ("cancel_order_lines", "restore_order_lines"):
        lines = [OrderLine.model_validate(line) for line in before["lines"]]
        return restore_order_lines(engine, req["order"], lines, before["status"], new_key, now, key)
    if kind == "add_backlog":
        return add_backlog(engine, req["node"], -int(after["applied"]), new_key, now, key)
    if kind == "release_hold":
        if int(after["released"]) == 0:
            return _nothing_to_undo(engine, f"{req['node']}/{req['sku']}", new_key, now, key)
        return hold_stock(
            engine, req["node"], req["sku"], int(after["released"]), new_key, now, key
        )
    if kind == "hold_stock":
        return release_hold(engine, req["node"], req["sku"], int(req["qty"]), new_key, now, key)
    if kind == "nothing_to_undo":
        return _nothing_to_undo(engine, res["target"], new_key, now, key)
    if kind == "transfer_inventory":
        return transfer_inventory(
            engine, req["to_node"], req["from_node"], req["sku"], int(req["qty"]), new_key, now, key
        )
    raise StoreError(f"effect {key!r} of kind {kind!r} has no compensation")


def _nothing_to_undo(
    engine: Engine, target: str, key: str, now: datetime, compensates: str
) -> EffectResult:
    """A compensation with nothing to change (the effect changed nothing), recorded all the
    same so that its key reads as applied."""
    return _run(
        engine,
        "nothing_to_undo",
        key,
        {"target": target, "compensates": compensates},
        now,
        lambda _conn: (target, {}, {}),
        compensates,
    )


def effect_applied(engine: Engine, key: str) -> bool:
    with read_connection(engine) as conn:
        return ledger.applied(conn, key)


def marked(engine: Engine, key: str) -> dict[str, Any] | None:
    """The payload a milestone was recorded with under `key`, or None if it never was."""
    return marked_many(engine, [key]).get(key)


def marked_many(engine: Engine, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The payloads of those of `keys` recorded as milestones (one read)."""
    found: dict[str, dict[str, Any]] = {}
    with read_connection(engine) as conn:
        for key in keys:
            row = ledger.read(conn, key)
            if row is not None:
                found[key] = row[1].get("request") or {}
    return found


def mark(engine: Engine, key: str, kind: str, payload: dict[str, Any], now: datetime) -> bool:
    """Record a milestone under `key` (e.g. "the act step of attempt 1 began"); True the first
    time, False when it was already recorded. Same ledger as the effects, so it is exact."""
    with write_connection(engine) as conn:
        return ledger.claim(conn, key, kind, payload, now, result={"marked": True}) is None
