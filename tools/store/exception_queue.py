"""Exceptions as received, their decisions, and the work queue of `queued` exceptions.

`register_exception` is insert-if-absent by event id (race-safe on both backends): the same
event twice is one exception. `claim_next_exception` hands each queued exception to exactly
one worker: on PostgreSQL with `SELECT ... FOR UPDATE SKIP LOCKED` (workers never wait on
each other), on SQLite inside a `BEGIN IMMEDIATE` transaction (one writer at a time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from tools.decisions import Decision, DecisionStatus
from tools.events import ExceptionEvent
from tools.store.dialect import insert_if_absent
from tools.store.engine import read_connection, write_connection
from tools.store.errors import InvalidRequest, NotFound
from tools.store.models import ExceptionRecord, ExceptionStatus
from tools.store.schema import EXCEPTIONS

MAX_PAGE = 1000


def _status(value: ExceptionStatus | DecisionStatus | str) -> str:
    try:
        return ExceptionStatus(str(value)).value
    except ValueError:
        allowed = ", ".join(s.value for s in ExceptionStatus)
        raise InvalidRequest("status", f"{value!r} is not one of {allowed}") from None


def _record(row: Any) -> ExceptionRecord:
    return ExceptionRecord(
        id=row.id,
        event=ExceptionEvent.model_validate(row.event),
        status=row.status,
        received_at=row.received_at,
        updated_at=row.updated_at,
        decision=Decision.model_validate(row.decision) if row.decision is not None else None,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        attempts=row.attempts,
    )


def register_exception(
    engine: Engine,
    event: ExceptionEvent,
    now: datetime,
    status: ExceptionStatus | str = ExceptionStatus.QUEUED,
    claimed_by: str | None = None,
) -> tuple[ExceptionRecord, bool]:
    """(the stored record, True) for a new event id; (the first record, False) for a repeat.
    `claimed_by`: the resolver that starts on it right away (its claim is its lease)."""
    values: dict[str, Any] = {
        "id": event.id,
        "event": event.model_dump(mode="json"),
        "status": _status(status),
        "received_at": now,
        "updated_at": now,
        "decision": None,
        "claimed_by": claimed_by,
        "claimed_at": now if claimed_by is not None else None,
        "attempts": 1 if claimed_by is not None else 0,
    }
    with write_connection(engine) as conn:
        if insert_if_absent(conn, EXCEPTIONS, values):  # new: the record is what was written
            return ExceptionRecord.model_validate({**values, "event": event}), True
        row = conn.execute(select(EXCEPTIONS).where(EXCEPTIONS.c.id == event.id)).one()
    return _record(row), False


def get_exception(engine: Engine, exception_id: str) -> ExceptionRecord | None:
    with read_connection(engine) as conn:
        row = conn.execute(select(EXCEPTIONS).where(EXCEPTIONS.c.id == exception_id)).first()
    return _record(row) if row is not None else None


def save_decision(
    engine: Engine,
    exception_id: str,
    decision: Decision,
    status: ExceptionStatus | DecisionStatus | str | None,
    now: datetime,
) -> ExceptionRecord:
    """Store the exception's (latest) decision and status (default: the decision's status)."""
    with write_connection(engine) as conn:
        _write_decision(conn, exception_id, decision, status, now)
        row = conn.execute(select(EXCEPTIONS).where(EXCEPTIONS.c.id == exception_id)).one()
    return _record(row)


def _write_decision(
    conn: Connection,
    exception_id: str,
    decision: Decision,
    status: ExceptionStatus | DecisionStatus | str | None,
    now: datetime,
) -> None:
    new_status = _status(status if status is not None else decision.status)
    changed = conn.execute(
        update(EXCEPTIONS)
        .where(EXCEPTIONS.c.id == exception_id)
        .values(decision=decision.model_dump(mode="json"), status=new_status, updated_at=now)
    ).rowcount
    if changed != 1:
        raise NotFound("exception", exception_id)


def set_exception_status(
    engine: Engine, exception_id: str, status: ExceptionStatus | str, now: datetime
) -> ExceptionRecord:
    """Move an exception to another status without touching its decision (e.g. back to
    `queued` after a worker gave up on it)."""
    new_status = _status(status)
    with write_connection(engine) as conn:
        values: dict[str, Any] = {"status": new_status, "updated_at": now}
        if new_status == ExceptionStatus.QUEUED.value:
            values.update(claimed_by=None, claimed_at=None)
        changed = conn.execute(
            update(EXCEPTIONS).where(EXCEPTIONS.c.id == exception_id).values(**values)
        ).rowcount
        if changed != 1:
            raise NotFound("exception", exception_id)
        row = conn.execute(select(EXCEPTIONS).where(EXCEPTIONS.c.id == exception_id)).one()
    return _record(row)


def list_exceptions(
    engine: Engine, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[ExceptionRecord]:
    """Newest first (ties by id, descending)."""
    if not 0 < limit <= MAX_PAGE:
        raise InvalidRequest("limit", f"must be between 1 and {MAX_PAGE}, got {limit}")
    if not 0 <= offset < 2**63:
        raise InvalidRequest("offset", f"must be between 0 and 2**63 - 1, got {offset}")
    stmt = select(EXCEPTIONS)
    if status is not None:
        stmt = stmt.where(EXCEPTIONS.c.status == _status(status))
    stmt = stmt.order_by(EXCEPTIONS.c.received_at.desc(), EXCEPTIONS.c.id.desc())
    with read_connection(engine) as conn:
        rows = conn.execute(stmt.limit(limit).offset(offset)).all()
    return [_record(r) for r in rows]


def claim_next_exception(engine: Engine, worker_id: str, now: datetime) -> ExceptionRecord | None:
    """The oldest `queued` exception, now `processing` and claimed by `worker_id`; None when
    the queue is empty. Each exception goes to exactly one claimant."""
    if not worker_id:
        raise InvalidRequest("worker_id", "must be a non-empty string")
    with write_connection(engine) as conn:
        picked = conn.execute(
            select(EXCEPTIONS.c.id)
            .where(EXCEPTIONS.c.status == ExceptionStatus.QUEUED.value)
            .order_by(EXCEPTIONS.c.received_at, EXCEPTIONS.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if picked is None:
            return None
        conn.execute(
            update(EXCEPTIONS)
            .where(EXCEPTIONS.c.id == picked)
            .values(
                status=ExceptionStatus.PROCESSING.value,
                claimed_by=worker_id,
                claimed_at=now,
                updated_at=now,
                attempts=EXCEPTIONS.c.attempts + 1,
            )
        )
        row = conn.execute(select(EXCEPTIONS).where(EXCEPTIONS.c.id == picked)).one()
    return _record(row)


def requeue_stale_claims(engine: Engine, claimed_before: datetime, now: datetime) -> list[str]:
    """Put back in the queue the exceptions still `processing` that were claimed before
    `claimed_before` (their worker died); returns their ids."""
    with write_connection(engine) as conn:
        ids = list(
            conn.execute(
                select(EXCEPTIONS.c.id)
                .where(
                    EXCEPTIONS.c.status == ExceptionStatus.PROCESSING.value,
                    EXCEPTIONS.c.claimed_at < claimed_before,
                )
                .order_by(EXCEPTIONS.c.id)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if ids:
            conn.execute(
                update(EXCEPTIONS)
                .where(EXCEPTIONS.c.id.in_(ids))
                .values(
                    status=ExceptionStatus.QUEUED.value,
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                )
            )
    return ids


def take_over(
    engine: Engine, exception_id: str, worker_id: str, stale_before: datetime, now: datetime
) -> bool:
    """Claim a `processing` exception whose claim is older than `stale_before` (its resolver
    died); True for exactly one of several racing claimants, False if the claim is fresh."""
    with write_connection(engine) as conn:
        changed = conn.execute(
            update(EXCEPTIONS)
            .where(
                EXCEPTIONS.c.id == exception_id,
                EXCEPTIONS.c.status == ExceptionStatus.PROCESSING.value,
                (EXCEPTIONS.c.claimed_at.is_(None)) | (EXCEPTIONS.c.claimed_at < stale_before),
            )
            .values(
                claimed_by=worker_id,
                claimed_at=now,
                updated_at=now,
                attempts=EXCEPTIONS.c.attempts + 1,
            )
        ).rowcount
    return changed == 1
