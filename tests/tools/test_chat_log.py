"""The chat assistant's log: append-only, filtered by session and actor, in order."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tools.store import Store


def test_chat_log_appends_and_reads_in_order(store: Store) -> None:
    store.append_chat_log("s1", "alice", "approver", "api", "message", {"text": "pending"})
    store.append_chat_log("s1", "alice", "approver", "api", "tool_call", {"tool": "pending"})
    store.append_chat_log("s2", "vic", "viewer", "cli", "message", {"text": "health"})
    entries = store.chat_log("s1")
    assert [e.kind for e in entries] == ["message", "tool_call"]
    assert entries[0].payload == {"text": "pending"} and entries[0].recorded_at.tzinfo
    assert [e.session_id for e in store.chat_log(actor="vic")] == ["s2"]
    assert [e.kind for e in store.chat_log(limit=1)] == ["message"]
    assert store.chat_log("nope") == []


def test_the_database_rejects_rewriting_the_chat_log(store: Store) -> None:
    store.append_chat_log("s1", "alice", "approver", "api", "answer", {"text": "ok"})
    for statement in ("UPDATE chat_log SET kind = 'x'", "DELETE FROM chat_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(store.chat_log()) == 1
