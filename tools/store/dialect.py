"""The few statements that differ between SQLite and PostgreSQL, behind one function each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tools.store.driver_statements import DriverStatement

# Keys of pg_advisory_xact_lock, one per kind of whole-store operation ("exld": network load).
PG_LOAD_LOCK = 0x65786C64
# IN-lists are sent in chunks this long (SQLite caps bound parameters per statement).
IN_CHUNK = 500


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


# Built once per (backend, table, columns) and run on the driver: building a statement costs
# more than running it, and so does `Connection.execute`'s own work (effects, reservations,
# bookings, exceptions and outbox messages are all claimed this way on the decision path).
_INSERT_IF_ABSENT: dict[tuple[bool, str, tuple[str, ...]], DriverStatement] = {}


def insert_if_absent(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when this call inserted the row.

    Race-safe on both backends: on PostgreSQL a concurrent insert of the same key waits for
    the other transaction and then does nothing; on SQLite writers are serialised anyway.
    """
    postgres = is_postgres(conn)
    key = (postgres, table.name, tuple(values))
    stmt = _INSERT_IF_ABSENT.get(key)
    if stmt is None:
        built = (pg_insert if postgres else sqlite_insert)(table).on_conflict_do_nothing()
        stmt = _INSERT_IF_ABSENT[key] = DriverStatement(built, columns=key[2])
    return stmt.execute(conn, values).rowcount == 1


def advisory_xact_lock(conn: Connection, key: int) -> None:
    """Serialise with every other transaction taking the same key (PostgreSQL only: SQLite
    write transactions are already serialised by BEGIN IMMEDIATE)."""
    if is_postgres(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]
