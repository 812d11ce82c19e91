"""Act's store writes run in one transaction per stage; a batch that loses a lock race (a
PostgreSQL deadlock) is rolled back whole and runs again, so nothing is done twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.agents.graph.fakes import open_resolver
from tools.events import ExceptionEvent
from tools.inputs import load_snapshot
from tools.store import Store
from tools.store.engine import is_lock_conflict


class Deadlock(Exception):
    sqlstate = "40P01"


def deadlock() -> OperationalError:
    return OperationalError("UPDATE inventory ...", {}, Deadlock("deadlock detected"))


def test_lock_conflicts_are_recognised() -> None:
    assert is_lock_conflict(deadlock())
    assert not is_lock_conflict(OperationalError("SELECT 1", {}, Exception("no such table")))
    assert not is_lock_conflict(ValueError("x"))


def test_a_commit_batch_that_deadlocks_runs_again_once(
    tmp_path: Path, northeast_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Store.add_backlog
    calls = {"n": 0}

    def flaky(self: Store, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        result = original(self, *args, **kwargs)  # written, then the transaction is lost
        if calls["n"] == 1:
            raise deadlock()
        return result

    monkeypatch.setattr(Store, "add_backlog", flaky)
    event = ExceptionEvent.model_validate(
        {
            "id": "EX-DL",
            "type": "node_overload",
            "occurred_at": "2026-11-24T09:05:00Z",
            "orders": ["O-1001"],
            "node": "STORE-BOS",
            "details": {"backlog_units": 1300},
        }
    )
    with open_resolver(tmp_path, load_snapshot(northeast_path)) as resolver:
        before = {n.id: n.backlog_units for n in resolver.store.export_snapshot().nodes}
        decision = resolver.resolve(event)
        assert decision.status.value == "auto_resolved", decision.rationale
        assert calls["n"] >= 2  # the batch ran again
        action = decision.actions[0]
        assert action.node is not None
        trail = resolver.store.audit_trail("EX-DL")
        done = Counter(a.key for a in trail.actions if a.status == "done")
        assert done and all(n == 1 for n in done.values())  # each step recorded once
        after = {n.id: n.backlog_units for n in resolver.store.export_snapshot().nodes}
        units = sum(line.qty for line in action.lines)
        assert after[action.node] == before[action.node] + units  # queued once, not twice
        order = resolver.store.get_order("O-1001")
        assert order is not None and order.allocation is not None
        assert order.allocation.node == action.node


def test_the_begun_milestone_survives_a_first_batch_that_deadlocks(
    tmp_path: Path, northeast_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The act step's "begun" milestone is written in the first batch's transaction: if that
    transaction is lost to a lock race, the batch's second run must write it again (a crash
    after it would otherwise re-judge the plan against its own reservations)."""
    original = Store.reserve
    calls = {"n": 0}

    def flaky(self: Store, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        result = original(self, *args, **kwargs)
        if calls["n"] == 1:
            raise deadlock()
        return result

    monkeypatch.setattr(Store, "reserve", flaky)
    event = ExceptionEvent.model_validate(
        {
            "id": "EX-DL-BEGUN",
            "type": "node_overload",
            "occurred_at": "2026-11-24T09:05:00Z",
            "orders": ["O-1001"],
            "node": "STORE-BOS",
            "details": {"backlog_units": 1300},
        }
    )
    with open_resolver(tmp_path, load_snapshot(northeast_path)) as resolver:
        decision = resolver.resolve(event)
        assert decision.status.value == "auto_resolved", decision.rationale
        assert calls["n"] >= 2  # the reserve batch ran again
        assert resolver.store.marked("EX-DL-BEGUN:1:act") == {"candidate": decision.chosen}
