"""The chat assistant's log: append-only (the migration's triggers reject UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from tools.store.audit import _new_id
from tools.store.engine import read_connection, write_connection
from tools.store.models import ChatLogEntry
from tools.store.schema import CHAT_LOG


def append_chat_log(
    engine: Engine,
    session_id: str,
    actor: str,
    role: str,
    channel: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    with write_connection(engine) as conn:
        result = conn.execute(
            insert(CHAT_LOG).values(
                session_id=session_id,
                recorded_at=now,
                actor=actor,
                role=role,
                channel=channel,
                kind=kind,
                payload=payload,
            )
        )
    return _new_id(result)


def chat_log(
    engine: Engine, session_id: str | None = None, actor: str | None = None, limit: int = 500
) -> list[ChatLogEntry]:
    """Entries in time order (ties by insertion), optionally of one session and/or actor; the
    latest `limit` of them."""
    query = select(CHAT_LOG)
    if session_id is not None:
        query = query.where(CHAT_LOG.c.session_id == session_id)
    if actor is not None:
        query = query.where(CHAT_LOG.c.actor == actor)
    query = query.order_by(CHAT_LOG.c.id.desc()).limit(limit)
    with read_connection(engine) as conn:
        rows = conn.execute(query).all()
    return [ChatLogEntry.model_validate(r._asdict()) for r in reversed(rows)]
