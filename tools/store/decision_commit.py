"""Filing a decision in one transaction: the exception's current decision and status, its
row in the append-only decision log, and the messages it sends (outbox, insert-if-absent by
key). Either all of it is on record or none: a database failing half-way through can never
leave a decided exception without its audit row or its notification (the run then stays
unfinished, and the start-up's recovery files it again)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, insert, update

from tools.decisions import Decision
from tools.store.dialect import insert_if_absent
from tools.store.driver_statements import DriverStatement
from tools.store.engine import write_connection
from tools.store.errors import InvalidRequest, NotFound
from tools.store.exception_queue import _status
from tools.store.ledger import check_key
from tools.store.models import OutboxStatus
from tools.store.schema import DECISION_LOG, EXCEPTIONS, OUTBOX

# (kind, payload, key) of a message to queue with the decision.
OutboxMessage = tuple[str, dict[str, Any], str]

# Built once (building a statement costs more than running it), run on the driver.
_SET_DECISION = DriverStatement(
    update(EXCEPTIONS)
    .where(EXCEPTIONS.c.id == bindparam("k"))
    .values(decision=bindparam("d"), status=bindparam("st"), updated_at=bindparam("at"))
)
_LOG = DriverStatement(
    insert(DECISION_LOG).values(
        exception_id=bindparam("k"), recorded_at=bindparam("at"), payload=bindparam("p")
    )
)


def record_decision(
    engine: Engine,
    exception_id: str,
    decision: Decision,
    log_payload: dict[str, Any],
    messages: Sequence[OutboxMessage],
    now: datetime,
    decision_json: dict[str, Any] | None = None,
) -> None:
    """File a decision in one transaction: the exception's decision and status, its
    decision-log row and its outbox messages (insert-if-absent by key); no read-back.
    `decision_json`: the decision's JSON form if the caller already has it."""
    for kind, _, key in messages:
        check_key(key)
        if not kind:
            raise InvalidRequest("kind", "must be a non-empty string")
    with write_connection(engine) as conn:
        changed = _SET_DECISION.execute(
            conn,
            {
                "k": exception_id,
                "d": decision_json or decision.model_dump(mode="json"),
                "st": _status(decision.status),
                "at": now,
            },
        ).rowcount
        if changed != 1:
            raise NotFound("exception", exception_id)
        _LOG.execute(conn, {"k": exception_id, "at": now, "p": log_payload})
        for kind, payload, key in messages:
            insert_if_absent(
                conn,
                OUTBOX,
                {
                    "key": key,
                    "kind": kind,
                    "payload": payload,
                    "status": OutboxStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_error": None,
                    "created_at": now,
                    "sent_at": None,
                },
            )
