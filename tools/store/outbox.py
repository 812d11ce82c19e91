"""The outbox: messages to other systems (Slack, partner webhooks...) written in the store
first and sent afterwards, so that a crash between deciding and notifying loses nothing and a
retry never sends twice under the same key. Backoff is the sender's choice (`retry_at`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from tools.store.dialect import insert_if_absent
from tools.store.engine import read_connection, write_connection
from tools.store.errors import InvalidRequest, NotFound
from tools.store.ledger import check_key
from tools.store.models import OutboxItem, OutboxStatus
from tools.store.schema import OUTBOX

MAX_ERROR_CHARS = 2000


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        key=row.key,
        kind=row.kind,
        payload=row.payload,
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def enqueue_outbox(
    engine: Engine,
    kind: str,
    payload: dict[str, Any],
    key: str,
    now: datetime,
    not_before: datetime | None = None,
) -> int:
    """Queue a message; the same key again returns the first message's id and adds nothing."""
    check_key(key)
    if not kind:
        raise InvalidRequest("kind", "must be a non-empty string")
    with write_connection(engine) as conn:
        insert_if_absent(
            conn,
            OUTBOX,
            {
                "key": key,
                "kind": kind,
                "payload": payload,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": not_before or now,
                "last_error": None,
                "created_at": now,
                "sent_at": None,
            },
        )
        return int(conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.key == key)).scalar_one())


def due_outbox(engine: Engine, limit: int, now: datetime) -> list[OutboxItem]:
    """Pending messages whose next attempt is due, oldest due first (ties by id)."""
    if limit <= 0:
        raise InvalidRequest("limit", f"must be positive, got {limit}")
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(OUTBOX)
            .where(OUTBOX.c.status == OutboxStatus.PENDING.value, OUTBOX.c.next_attempt_at <= now)
            .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
            .limit(limit)
        ).all()
    return [_item(r) for r in rows]


def get_outbox(engine: Engine, item_id: int) -> OutboxItem | None:
    with read_connection(engine) as conn:
        row = conn.execute(select(OUTBOX).where(OUTBOX.c.id == item_id)).first()
    return _item(row) if row is not None else None


def mark_outbox_sent(engine: Engine, item_id: int, now: datetime) -> None:
    """Record the message as sent (marking it again changes nothing)."""
    with write_connection(engine) as conn:
        changed = conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == item_id, OUTBOX.c.status != OutboxStatus.SENT.value)
            .values(status=OutboxStatus.SENT.value, sent_at=now, attempts=OUTBOX.c.attempts + 1)
        ).rowcount
        if (
            changed != 1
            and conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.id == item_id)).first() is None
        ):
            raise NotFound("outbox item", str(item_id))


def mark_outbox_failed(engine: Engine, item_id: int, error: str, retry_at: datetime | None) -> None:
    """Record a failed attempt: retried at `retry_at`, or given up (`failed`) when None."""
    values: dict[str, Any] = {
        "attempts": OUTBOX.c.attempts + 1,
        "last_error": error[:MAX_ERROR_CHARS],
    }
    if retry_at is None:
        values["status"] = OutboxStatus.FAILED.value
    else:
        values.update(status=OutboxStatus.PENDING.value, next_attempt_at=retry_at)
    with write_connection(engine) as conn:
        changed = conn.execute(
            update(OUTBOX).where(OUTBOX.c.id == item_id).values(**values)
        ).rowcount
    if changed != 1:
        raise NotFound("outbox item", str(item_id))


def claim_outbox(engine: Engine, limit: int, now: datetime, lease: timedelta) -> list[OutboxItem]:
    """Due messages for one dispatcher among several: each is leased to the caller (its next
    attempt moved to `now + lease`, `FOR UPDATE SKIP LOCKED` on PostgreSQL), so concurrent
    dispatchers never get the same message; one the caller neither marks sent nor failed
    (it crashed) comes back when the lease runs out."""
    if limit <= 0:
        raise InvalidRequest("limit", f"must be positive, got {limit}")
    if lease <= timedelta(0):
        raise InvalidRequest("lease", f"must be positive, got {lease}")
    with write_connection(engine) as conn:
        ids = list(
            conn.execute(
                select(OUTBOX.c.id)
                .where(
                    OUTBOX.c.status == OutboxStatus.PENDING.value,
                    OUTBOX.c.next_attempt_at <= now,
                )
                .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not ids:
            return []
        conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(next_attempt_at=now + lease))
        rows = conn.execute(select(OUTBOX).where(OUTBOX.c.id.in_(ids)).order_by(OUTBOX.c.id)).all()
    by_id = {row.id: _item(row) for row in rows}
    return [by_id[i] for i in ids]
