"""The append-only audit: what is written, read back in order, and can never be rewritten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tools.store import Store
from tools.store.schema import AUDIT_TABLES


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: float = 1) -> None:
        self.now += timedelta(minutes=minutes)


def _fill(store: Store) -> None:
    store.append_decision_log("EX-1", {"status": "pending_approval"})
    store.append_action_log("EX-1", "reallocate", "EX-1:a1", "applied", {"order": "O-1"})
    store.append_approval_log("AP-1", "EX-1", "requested", None, {"reasons": ["cost"]})
    store.append_outcome_log("O-1", "EX-1", {"delivered_on_time": True})


def test_audit_trail_returns_everything_in_time_order(store: Store) -> None:
    clock = Clock()
    timed = Store(store.engine, clock=clock)
    timed.append_decision_log("EX-1", {"n": 1})
    clock.tick()
    timed.append_action_log("EX-1", "reserve", "k1", "applied", {"n": 1}, nodes=["DC-NJ"])
    timed.append_action_log("EX-1", "book", "k2", "failed", {"error": "503"})
    clock.tick()
    timed.append_decision_log("EX-1", {"n": 2})
    timed.append_approval_log("AP-1", "EX-1", "approved", "U123", {"channel": "slack"})
    timed.append_outcome_log("O-1", "EX-1", {"picked_units": 1})
    timed.append_outcome_log("O-1", None, {"delivered_on_time": False})
    timed.append_decision_log("EX-2", {"other": True})

    trail = timed.audit_trail("EX-1")
    assert [d.payload["n"] for d in trail.decisions] == [1, 2]
    assert [a.key for a in trail.actions] == ["k1", "k2"]
    assert trail.actions[0].nodes == ["DC-NJ"] and trail.actions[0].autonomous
    assert trail.approvals[0].actor == "U123"
    assert [o.payload for o in trail.outcomes] == [{"picked_units": 1}]
    assert trail.decisions[0].recorded_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert len(timed.outcomes_for_order("O-1")) == 2
    assert timed.audit_trail("EX-404").empty


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_database_rejects_updates_and_deletes(store: Store, table: str) -> None:
    _fill(store)
    for statement in (f"UPDATE {table} SET recorded_at = recorded_at", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    with store.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1


@pytest.mark.postgres
def test_postgres_also_rejects_truncate(pg_store: Store) -> None:
    _fill(pg_store)
    with pytest.raises(DBAPIError, match="append-only"), pg_store.engine.begin() as conn:
        conn.execute(text("TRUNCATE decision_log"))


def test_recent_actions_count_autonomous_applied_actions_per_node(store: Store) -> None:
    clock = Clock()
    timed = Store(store.engine, clock=clock)
    timed.append_action_log("E1", "reallocate", "a", "applied", nodes=["DC-NJ"])
    clock.tick(30)
    since = clock.now
    timed.append_action_log("E2", "reallocate", "b", "applied", nodes=["DC-NJ"])
    timed.append_action_log("E3", "split", "c", "applied", nodes=["DC-NJ", "DC-PA", "DC-NJ"])
    timed.append_action_log("E4", "reallocate", "d", "failed", nodes=["DC-PA"])
    timed.append_action_log("E5", "reallocate", "e", "applied", nodes=["DC-PA"], autonomous=False)
    timed.append_action_log("E6", "notify", "f", "applied")
    assert timed.recent_actions_by_node(since) == {"DC-NJ": 2, "DC-PA": 1}
    assert timed.recent_actions_by_node(since - timedelta(minutes=30)) == {"DC-NJ": 3, "DC-PA": 1}
    assert timed.recent_actions_by_node(since + timedelta(seconds=1)) == {}


def test_steps_logged_together_keep_their_order_and_count_like_single_ones(store: Store) -> None:
    from tools.store import ActionNote

    store.append_action_logs(
        "E7",
        [
            ActionNote("reserve", "k1", "done", {"detail": "held"}),
            ActionNote("book", "k2", "failed", {"error": "refused"}),
            ActionNote("reallocate", "k3", "applied", {}, nodes=["DC-NJ", "DC-PA"]),
            ActionNote("reallocate", "k4", "applied", {}, nodes=["DC-PA"], autonomous=False),
        ],
    )
    store.append_action_logs("E7", [])  # nothing to log: no row, no error
    actions = store.audit_trail("E7").actions
    assert [(a.step, a.key, a.status) for a in actions] == [
        ("reserve", "k1", "done"),
        ("book", "k2", "failed"),
        ("reallocate", "k3", "applied"),
        ("reallocate", "k4", "applied"),
    ]
    assert actions[1].detail == {"error": "refused"}
    since = actions[0].recorded_at
    assert store.recent_actions_by_node(since) == {"DC-NJ": 1, "DC-PA": 1}
