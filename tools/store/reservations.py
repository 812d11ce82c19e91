"""Reservations: atomic, idempotent holds on available-to-promise stock that never oversell.

`reserve` inserts the reservation row (its key is the primary key; ON CONFLICT DO NOTHING)
and, in the same transaction, runs ONE conditional UPDATE:

    UPDATE inventory SET reserved = reserved + :q
    WHERE node = :node AND sku = :sku AND on_hand - reserved - safety_stock >= :q

The database evaluates the condition against the row as it stands when the row lock is
granted (PostgreSQL re-checks it after waiting for a concurrent writer; SQLite serialises
writers with BEGIN IMMEDIATE), so racing reservations can never take more than is there.
If the UPDATE matches nothing the whole transaction rolls back, reservation row included,
and `InsufficientStock` says how many units were available.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, select, update

from tools.store.dialect import insert_if_absent
from tools.store.driver_statements import DriverStatement
from tools.store.engine import read_connection, write_connection
from tools.store.errors import InsufficientStock, InvalidRequest, KeyConflict, NotFound
from tools.store.ledger import check_key
from tools.store.models import Reservation, ReservationState
from tools.store.schema import INVENTORY, RESERVATIONS


def _reservation(row: Any, replayed: bool = False) -> Reservation:
    return Reservation(
        key=row.key,
        node=row.node,
        sku=row.sku,
        qty=row.qty,
        state=ReservationState(row.state),
        created_at=row.created_at,
        released_at=row.released_at,
        replayed=replayed,
    )


# Built once (building a statement costs more than running it); the decision path's run on
# the driver.
_BY_KEY = DriverStatement(select(RESERVATIONS).where(RESERVATIONS.c.key == bindparam("k")))
_AT = (INVENTORY.c.node == bindparam("n"), INVENTORY.c.sku == bindparam("s"))
_STOCK = select(INVENTORY.c.on_hand, INVENTORY.c.reserved, INVENTORY.c.safety_stock).where(*_AT)
_FREE = INVENTORY.c.on_hand - INVENTORY.c.reserved
# {allow_safety_stock: hold q units if that many are free}
_TAKE = {
    allow: DriverStatement(
        update(INVENTORY)
        .where(*_AT, (_FREE if allow else _FREE - INVENTORY.c.safety_stock) >= bindparam("q"))
        .values(reserved=INVENTORY.c.reserved + bindparam("q"))
    )
    for allow in (False, True)
}
_FLIP = (
    update(RESERVATIONS)
    .where(
        RESERVATIONS.c.key == bindparam("k"),
        RESERVATIONS.c.state == ReservationState.HELD.value,
    )
    .values(state=ReservationState.RELEASED.value, released_at=bindparam("at"))
)
_GIVE_BACK = (
    update(INVENTORY)
    .where(*_AT)
    .values(
        reserved=case(
            (INVENTORY.c.reserved >= bindparam("q"), INVENTORY.c.reserved - bindparam("q")),
            else_=0,
        )
    )
)


def _read(conn: Connection, key: str) -> Any:
    return _BY_KEY.execute(conn, {"k": key}).first()


def _available(conn: Connection, node: str, sku: str, allow_safety_stock: bool) -> int:
    row = conn.execute(_STOCK, {"n": node, "s": sku}).first()
    if row is None:
        raise NotFound("inventory position", f"{node}/{sku}")
    free = row.on_hand - row.reserved - (0 if allow_safety_stock else row.safety_stock)
    return max(0, free)


def reserve(
    engine: Engine,
    key: str,
    node: str,
    sku: str,
    qty: int,
    now: datetime,
    *,
    allow_safety_stock: bool = False,
) -> Reservation:
    """Hold `qty` units of `sku` at `node` under `key` (see the module docstring)."""
    check_key(key)
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise InvalidRequest("qty", f"must be a positive integer, got {qty!r}")
    with write_connection(engine) as conn:
        inserted = insert_if_absent(
            conn,
            RESERVATIONS,
            {
                "key": key,
                "node": node,
                "sku": sku,
                "qty": qty,
                "state": ReservationState.HELD.value,
                "created_at": now,
                "released_at": None,
            },
        )
        if not inserted:
            existing = _read(conn, key)
            if (existing.node, existing.sku, existing.qty) != (node, sku, qty):
                raise KeyConflict(
                    key, f"a reservation of {existing.qty} x {existing.node}/{existing.sku}"
                )
            return _reservation(existing, replayed=True)
        taken = _TAKE[allow_safety_stock].execute(conn, {"n": node, "s": sku, "q": qty}).rowcount
        if taken != 1:
            available = _available(conn, node, sku, allow_safety_stock)
            raise InsufficientStock(node, sku, qty, available)
        return _reservation(_read(conn, key))


def release(engine: Engine, key: str, now: datetime) -> Reservation:
    """Give back the units held under `key`. Releasing twice releases once; an unknown key is
    a `NotFound`."""
    check_key(key)
    with write_connection(engine) as conn:
        flipped = conn.execute(_FLIP, {"k": key, "at": now}).rowcount
        row = _read(conn, key)
        if row is None:
            raise NotFound("reservation", key)
        if flipped != 1:
            return _reservation(row, replayed=True)
        # If a snapshot refresh lowered `reserved` since, free what is left (never below 0).
        conn.execute(_GIVE_BACK, {"n": row.node, "s": row.sku, "q": row.qty})
        return _reservation(row)


def get_reservation(engine: Engine, key: str) -> Reservation | None:
    with read_connection(engine) as conn:
        row = _read(conn, key)
    return _reservation(row) if row is not None else None


def held_reservations(
    engine: Engine, node: str | None = None, sku: str | None = None
) -> list[Reservation]:
    """Reservations still held (optionally at one node / of one SKU), oldest first."""
    stmt = select(RESERVATIONS).where(RESERVATIONS.c.state == ReservationState.HELD.value)
    if node is not None:
        stmt = stmt.where(RESERVATIONS.c.node == node)
    if sku is not None:
        stmt = stmt.where(RESERVATIONS.c.sku == sku)
    with read_connection(engine) as conn:
        rows = conn.execute(stmt.order_by(RESERVATIONS.c.created_at, RESERVATIONS.c.key)).all()
    return [_reservation(r) for r in rows]
