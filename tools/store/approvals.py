"""Approvals: requests for a person's decision, decided exactly once.

`decide_approval` is a compare-and-set from `pending` (`UPDATE ... WHERE status = 'pending'`):
when two people (or a Slack click and an API call) decide at once, exactly one wins and the
others get False.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from tools.decisions import Approval, ApprovalStatus
from tools.store.dialect import insert_if_absent
from tools.store.engine import read_connection, write_connection
from tools.store.errors import InvalidRequest
from tools.store.models import ApprovalRecord
from tools.store.schema import APPROVALS

DECIDED = (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.SUPERSEDED)


def _record(row: Any) -> ApprovalRecord:
    return ApprovalRecord(
        id=row.id,
        exception_id=row.exception_id,
        reasons=list(row.reasons),
        status=ApprovalStatus(row.status),
        requested_at=row.requested_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        channel=row.channel,
        comment=row.comment,
    )


def create_approval(
    engine: Engine, approval: Approval, exception_id: str, now: datetime
) -> tuple[ApprovalRecord, bool]:
    """Store a pending approval; the same id again returns the first record and False."""
    if approval.status is not ApprovalStatus.PENDING:
        raise InvalidRequest("status", "a new approval must be pending")
    with write_connection(engine) as conn:
        created = insert_if_absent(
            conn,
            APPROVALS,
            {
                "id": approval.id,
                "exception_id": exception_id,
                "status": ApprovalStatus.PENDING.value,
                "reasons": list(approval.reasons),
                "requested_at": approval.requested_at or now,
                "decided_at": None,
                "decided_by": None,
                "channel": None,
                "comment": None,
            },
        )
        row = conn.execute(select(APPROVALS).where(APPROVALS.c.id == approval.id)).one()
    return _record(row), created


def decide_approval(
    engine: Engine,
    approval_id: str,
    status: ApprovalStatus | str,
    decided_by: str | None,
    channel: str | None,
    comment: str | None,
    now: datetime,
) -> bool:
    """Approve, reject or supersede a pending approval. True for the one caller that did it;
    False when it was not pending any more (or does not exist)."""
    try:
        new_status = ApprovalStatus(status)
    except ValueError:
        new_status = ApprovalStatus.PENDING
    if new_status not in DECIDED:
        raise InvalidRequest(
            "status", f"{status!r} is not one of {', '.join(s.value for s in DECIDED)}"
        )
    with write_connection(engine) as conn:
        changed = conn.execute(
            update(APPROVALS)
            .where(
                APPROVALS.c.id == approval_id, APPROVALS.c.status == ApprovalStatus.PENDING.value
            )
            .values(
                status=new_status.value,
                decided_at=now,
                decided_by=decided_by,
                channel=channel,
                comment=comment,
            )
        ).rowcount
    return changed == 1


def get_approval(engine: Engine, approval_id: str) -> ApprovalRecord | None:
    with read_connection(engine) as conn:
        row = conn.execute(select(APPROVALS).where(APPROVALS.c.id == approval_id)).first()
    return _record(row) if row is not None else None


def list_approvals(
    engine: Engine, status: ApprovalStatus | str | None = None, exception_id: str | None = None
) -> list[ApprovalRecord]:
    """Oldest request first (ties by id)."""
    stmt = select(APPROVALS)
    if status is not None:
        try:
            stmt = stmt.where(APPROVALS.c.status == ApprovalStatus(status).value)
        except ValueError:
            allowed = ", ".join(s.value for s in ApprovalStatus)
            raise InvalidRequest("status", f"{status!r} is not one of {allowed}") from None
    if exception_id is not None:
        stmt = stmt.where(APPROVALS.c.exception_id == exception_id)
    with read_connection(engine) as conn:
        rows = conn.execute(stmt.order_by(APPROVALS.c.requested_at, APPROVALS.c.id)).all()
    return [_record(r) for r in rows]
