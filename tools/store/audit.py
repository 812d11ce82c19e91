"""The append-only audit: decisions, actions, approvals and outcomes, as they happened.

Rows are only ever inserted; the migration installs triggers that make the database itself
reject UPDATE and DELETE on these tables (SQLite and PostgreSQL), so not even a bug or a
hand-typed SQL statement can rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, bindparam, func, insert, select

from tools.store.driver_statements import DriverStatement
from tools.store.engine import read_connection, write_connection
from tools.store.errors import StoreError
from tools.store.models import (
    ActionLogEntry,
    ActionNote,
    ApprovalLogEntry,
    AuditTrail,
    DecisionLogEntry,
    OutcomeLogEntry,
)
from tools.store.schema import ACTION_LOG, APPROVAL_LOG, DECISION_LOG, NODE_ACTIONS, OUTCOME_LOG

# The action_log status of an action that really changed the world (what rate limits count).
ACTION_APPLIED = "applied"
# Built once (building a statement costs more than running it on the decision path).
_INSERT_ACTION = insert(ACTION_LOG)
# The decision path's statements run on the driver (`tools.store.driver_statements`).
_INSERT_ACTIONS = DriverStatement(
    insert(ACTION_LOG),
    ("exception_id", "recorded_at", "step", "key", "status", "nodes", "autonomous", "detail"),
    many=True,
)
_INSERT_NODE_ACTIONS = DriverStatement(
    insert(NODE_ACTIONS), ("exception_id", "key", "node", "recorded_at"), many=True
)
_RECENT_BY_NODE = DriverStatement(
    select(NODE_ACTIONS.c.node, func.count())
    .where(NODE_ACTIONS.c.recorded_at >= bindparam("since"))
    .group_by(NODE_ACTIONS.c.node)
    .order_by(NODE_ACTIONS.c.node)
)


def _action_row(exception_id: str, note: ActionNote, now: datetime) -> dict[str, Any]:
    return {
        "exception_id": exception_id,
        "recorded_at": now,
        "step": note.step,
        "key": note.key,
        "status": note.status,
        "nodes": list(note.nodes),
        "autonomous": note.autonomous,
        "detail": note.detail,
    }


def _node_actions(
    conn: Connection, exception_id: str, notes: Sequence[ActionNote], now: datetime
) -> None:
    """The rate limit's rows: each node of an autonomous applied action, once per action."""
    rows = [
        {"exception_id": exception_id, "key": n.key, "node": node, "recorded_at": now}
        for n in notes
        if n.status == ACTION_APPLIED and n.autonomous
        for node in dict.fromkeys(n.nodes)
    ]
    if rows:
        _INSERT_NODE_ACTIONS.execute_many(conn, rows)


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise StoreError("the database did not return the new audit row's id")
    return int(key[0])


def append_decision_log(
    engine: Engine, exception_id: str, payload: dict[str, Any], now: datetime
) -> int:
    with write_connection(engine) as conn:
        result = conn.execute(
            insert(DECISION_LOG).values(exception_id=exception_id, recorded_at=now, payload=payload)
        )
    return _new_id(result)


def append_action_log(
    engine: Engine,
    exception_id: str,
    step: str,
    key: str,
    status: str,
    detail: dict[str, Any],
    now: datetime,
    *,
    nodes: Sequence[str] = (),
    autonomous: bool = True,
) -> int:
    """Log one step of the act phase. `nodes`: the nodes the action sends work to; an
    `autonomous` action (no person approved it) with status `applied` counts towards the
    per-node rate limit (`recent_actions_by_node`)."""
    with write_connection(engine) as conn:
        note = ActionNote(step, key, status, detail, nodes, autonomous)
        _node_actions(conn, exception_id, [note], now)
        result = conn.execute(_INSERT_ACTION, _action_row(exception_id, note, now))
    return _new_id(result)


def append_action_logs(
    engine: Engine, exception_id: str, notes: Sequence[ActionNote], now: datetime
) -> None:
    """Log several steps of the act phase in one statement (one transaction, or the open
    unit of work's), in order."""
    if not notes:
        return
    with write_connection(engine) as conn:
        _INSERT_ACTIONS.execute_many(conn, [_action_row(exception_id, n, now) for n in notes])
        _node_actions(conn, exception_id, notes, now)


def append_approval_log(
    engine: Engine,
    approval_id: str,
    exception_id: str,
    event: str,
    actor: str | None,
    detail: dict[str, Any],
    now: datetime,
) -> int:
    with write_connection(engine) as conn:
        result = conn.execute(
            insert(APPROVAL_LOG).values(
                approval_id=approval_id,
                exception_id=exception_id,
                recorded_at=now,
                event=event,
                actor=actor,
                detail=detail,
            )
        )
    return _new_id(result)


def append_outcome_log(
    engine: Engine,
    order_id: str,
    exception_id: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    with write_connection(engine) as conn:
        result = conn.execute(
            insert(OUTCOME_LOG).values(
                order_id=order_id, exception_id=exception_id, recorded_at=now, payload=payload
            )
        )
    return _new_id(result)


def audit_trail(engine: Engine, exception_id: str) -> AuditTrail:
    """Everything logged for one exception, each kind in time order (ties by insertion)."""
    with read_connection(engine) as conn:
        decisions = conn.execute(
            select(DECISION_LOG)
            .where(DECISION_LOG.c.exception_id == exception_id)
            .order_by(DECISION_LOG.c.recorded_at, DECISION_LOG.c.id)
        ).all()
        actions = conn.execute(
            select(ACTION_LOG)
            .where(ACTION_LOG.c.exception_id == exception_id)
            .order_by(ACTION_LOG.c.recorded_at, ACTION_LOG.c.id)
        ).all()
        approvals = conn.execute(
            select(APPROVAL_LOG)
            .where(APPROVAL_LOG.c.exception_id == exception_id)
            .order_by(APPROVAL_LOG.c.recorded_at, APPROVAL_LOG.c.id)
        ).all()
        outcomes = conn.execute(
            select(OUTCOME_LOG)
            .where(OUTCOME_LOG.c.exception_id == exception_id)
            .order_by(OUTCOME_LOG.c.recorded_at, OUTCOME_LOG.c.id)
        ).all()
    return AuditTrail(
        exception_id=exception_id,
        decisions=[DecisionLogEntry.model_validate(r._asdict()) for r in decisions],
        actions=[ActionLogEntry.model_validate(r._asdict()) for r in actions],
        approvals=[ApprovalLogEntry.model_validate(r._asdict()) for r in approvals],
        outcomes=[OutcomeLogEntry.model_validate(r._asdict()) for r in outcomes],
    )


def outcomes_for_order(engine: Engine, order_id: str) -> list[OutcomeLogEntry]:
    with read_connection(engine) as conn:
        rows = conn.execute(
            select(OUTCOME_LOG)
            .where(OUTCOME_LOG.c.order_id == order_id)
            .order_by(OUTCOME_LOG.c.recorded_at, OUTCOME_LOG.c.id)
        ).all()
    return [OutcomeLogEntry.model_validate(r._asdict()) for r in rows]


def recent_actions_by_node(engine: Engine, since: datetime) -> dict[str, int]:
    """Autonomous applied actions per node recorded at or after `since` (an action that
    sends work to two nodes counts once for each)."""
    with read_connection(engine) as conn:
        return {node: int(n) for node, n in _RECENT_BY_NODE.execute(conn, {"since": since})}
