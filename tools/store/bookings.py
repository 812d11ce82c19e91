"""The bookings table: the simulated carrier's book of record, idempotent by key across
processes (insert-if-absent on the key, cancel as a compare-and-set from `booked`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select, update

from tools.store.dialect import insert_if_absent
from tools.store.driver_statements import DriverStatement
from tools.store.engine import read_connection, write_connection
from tools.store.errors import NotFound
from tools.store.ledger import check_key
from tools.store.models import StoredBooking
from tools.store.schema import BOOKINGS

# Built once, run on the driver (every booking reads its row back).
_BY_KEY = DriverStatement(select(BOOKINGS).where(BOOKINGS.c.key == bindparam("k")))


def _stored(row: Any) -> StoredBooking:
    return StoredBooking(
        key=row.key,
        booking_id=row.booking_id,
        carrier=row.carrier,
        carrier_service=row.carrier_service,
        order_id=row.order_id,
        state=row.state,
        payload=row.payload,
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
        cancel_key=row.cancel_key,
    )


def record_booking(
    engine: Engine,
    key: str,
    booking_id: str,
    carrier: str,
    carrier_service: str,
    order_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> tuple[StoredBooking, bool]:
    """(the booking, True) when `key` is new; (the first booking under `key`, False) if not."""
    check_key(key)
    with write_connection(engine) as conn:
        created = insert_if_absent(
            conn,
            BOOKINGS,
            {
                "key": key,
                "booking_id": booking_id,
                "carrier": carrier,
                "carrier_service": carrier_service,
                "order_id": order_id,
                "state": "booked",
                "payload": payload,
                "created_at": now,
                "cancelled_at": None,
                "cancel_key": None,
            },
        )
        row = _BY_KEY.execute(conn, {"k": key}).one()
    return _stored(row), created


def get_booking(engine: Engine, key: str) -> StoredBooking | None:
    with read_connection(engine) as conn:
        row = _BY_KEY.execute(conn, {"k": key}).first()
    return _stored(row) if row is not None else None


def cancel_booking(engine: Engine, key: str, cancel_key: str, now: datetime) -> StoredBooking:
    """Cancel the booking made under `key`; cancelling again changes nothing."""
    check_key(cancel_key)
    with write_connection(engine) as conn:
        conn.execute(
            update(BOOKINGS)
            .where(BOOKINGS.c.key == key, BOOKINGS.c.state == "booked")
            .values(state="cancelled", cancelled_at=now, cancel_key=cancel_key)
        )
        row = _BY_KEY.execute(conn, {"k": key}).first()
    if row is None:
        raise NotFound("booking", key)
    return _stored(row)


def bookings_for_order(engine: Engine, order_id: str) -> list[StoredBooking]:
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(BOOKINGS)
            .where(BOOKINGS.c.order_id == order_id)
            .order_by(BOOKINGS.c.created_at, BOOKINGS.c.key)
        ).all()
    return [_stored(r) for r in rows]
