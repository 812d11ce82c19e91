"""The idempotency ledger (`effects`): claim a key inside the transaction that applies it.

`claim(conn, key, kind, request, now)` inserts the key's row (INSERT ... ON CONFLICT DO
NOTHING) before the effect runs, in the same transaction. If the row was already there the
effect was applied before: the stored result is returned and nothing runs again. A
concurrent claim of the same key waits on PostgreSQL's unique index (or SQLite's write
lock) until the first transaction ends, so a key is applied exactly once; if the first
transaction rolls back, its claim disappears with it and the key can be applied later.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select, update

from tools.store.dialect import insert_if_absent
from tools.store.driver_statements import DriverStatement
from tools.store.errors import InvalidRequest, KeyConflict
from tools.store.schema import BOOKINGS, EFFECTS, RESERVATIONS

MAX_KEY_LENGTH = 255
# Built once (building a statement costs more than running it); the key is bound per call.
# Read and finish run on the driver: every effect of the act step finishes, replays read.
_READ = DriverStatement(
    select(EFFECTS.c.kind, EFFECTS.c.payload).where(EFFECTS.c.key == bindparam("k"))
)
_FINISH = DriverStatement(update(EFFECTS).where(EFFECTS.c.key == bindparam("k")), ("payload",))
_APPLIED = select(
    exists().where(EFFECTS.c.key == bindparam("k"))
    | exists().where(RESERVATIONS.c.key == bindparam("k"))
    | exists().where(BOOKINGS.c.key == bindparam("k"))
)


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidRequest("key", "an idempotency key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest("key", f"longer than {MAX_KEY_LENGTH} characters")
    return key


def normalised(request: dict[str, Any]) -> dict[str, Any]:
    """The request as the JSON column will hand it back (so stored and new compare equal)."""
    loaded: dict[str, Any] = json.loads(json.dumps(request, sort_keys=True, default=str))
    return loaded


def claim(
    conn: Connection,
    key: str,
    kind: str,
    request: dict[str, Any],
    now: datetime,
    result: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Claim `key` for this effect. None: go ahead and apply it, then call `finish` (or, when
    the `result` is known up front, as for a milestone, it is stored with the claim and
    there is nothing to finish). A dict: the key was applied before, this is its stored
    result. Raises `KeyConflict` when the key was used for another kind of effect or other
    arguments."""
    check_key(key)
    request = normalised(request)
    payload = {"request": request, "result": normalised(result) if result is not None else None}
    if insert_if_absent(
        conn, EFFECTS, {"key": key, "kind": kind, "payload": payload, "created_at": now}
    ):
        return None
    row = _READ.execute(conn, {"k": key}).one()
    if row.kind != kind or row.payload.get("request") != request:
        raise KeyConflict(key, f"{row.kind} {json.dumps(row.payload.get('request'))}")
    stored: dict[str, Any] = row.payload["result"]
    return stored


def finish(conn: Connection, key: str, request: dict[str, Any], result: dict[str, Any]) -> None:
    """Store the result of the effect `key` (same transaction as `claim`)."""
    _FINISH.execute(
        conn,
        {"k": key, "payload": {"request": normalised(request), "result": normalised(result)}},
    )


def read(conn: Connection, key: str) -> tuple[str, dict[str, Any]] | None:
    """(kind, {"request": ..., "result": ...}) of an applied key, or None."""
    row = _READ.execute(conn, {"k": key}).first()
    return (row.kind, row.payload) if row is not None else None


def applied(conn: Connection, key: str) -> bool:
    """Whether anything was applied under `key`: an effect, a reservation or a booking."""
    return bool(conn.execute(_APPLIED, {"k": key}).scalar())
