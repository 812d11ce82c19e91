"""`Store.unit_of_work`: one transaction for many effects, each effect still all-or-nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tools.store import InsufficientStock, Store
from tools.store.engine import write_connection


def on_hand(store: Store, node: str, sku: str) -> tuple[int, int]:
    position = store.get_position(node, sku)
    assert position is not None
    return position.on_hand, position.reserved


def test_effects_in_a_unit_commit_together_and_a_failed_one_leaves_nothing(
    northeast_store: Store,
) -> None:
    store = northeast_store
    _, reserved = on_hand(store, "DC-NJ", "SKU-TENT")
    with store.unit_of_work():
        store.reserve("U:1", "DC-NJ", "SKU-TENT", 1)
        # reads inside the unit see its own writes
        assert on_hand(store, "DC-NJ", "SKU-TENT")[1] == reserved + 1
        with pytest.raises(InsufficientStock):
            store.reserve("U:2", "DC-NJ", "SKU-TENT", 10_000)
        store.append_action_log("EX-U", "reserve", "U:1", "done", {"detail": "x"})
    assert on_hand(store, "DC-NJ", "SKU-TENT")[1] == reserved + 1
    assert store.get_reservation("U:1") is not None
    assert store.get_reservation("U:2") is None  # the failed effect left nothing, not its key
    assert [a.key for a in store.audit_trail("EX-U").actions] == ["U:1"]
    again = store.reserve("U:1", "DC-NJ", "SKU-TENT", 1)  # idempotent by key afterwards too
    assert again.replayed and on_hand(store, "DC-NJ", "SKU-TENT")[1] == reserved + 1


def test_a_unit_that_raises_writes_nothing(northeast_store: Store) -> None:
    store = northeast_store
    before = on_hand(store, "DC-NJ", "SKU-TENT")
    with pytest.raises(RuntimeError, match="stop"), store.unit_of_work():
        store.reserve("V:1", "DC-NJ", "SKU-TENT", 1)
        with store.unit_of_work():  # nested: a savepoint of the outer unit
            store.append_action_log("EX-V", "reserve", "V:1", "done", {})
        raise RuntimeError("stop")
    assert on_hand(store, "DC-NJ", "SKU-TENT") == before
    assert store.get_reservation("V:1") is None
    assert store.audit_trail("EX-V").empty


def test_a_database_error_in_a_savepoint_leaves_the_unit_usable(northeast_store: Store) -> None:
    """An effect whose statement the database refuses (here a NOT NULL violation) rolls back
    to its savepoint only: on PostgreSQL the transaction would otherwise stay aborted. The
    unit's other writes, before and after it, and a savepoint nested inside a savepoint, all
    commit; the refused one and the inner savepoint that raised leave nothing."""
    store = northeast_store
    engine = store._engine
    _, reserved = on_hand(store, "DC-NJ", "SKU-TENT")
    with store.unit_of_work():
        store.reserve("W:1", "DC-NJ", "SKU-TENT", 1)
        with pytest.raises(IntegrityError), write_connection(engine) as conn:
            conn.execute(text("INSERT INTO action_log (exception_id) VALUES (NULL)"))
        with write_connection(engine):  # outer savepoint
            store.append_action_log("EX-W", "reserve", "W:1", "done", {})
            with pytest.raises(RuntimeError, match="inner"), write_connection(engine):
                store.append_action_log("EX-W", "reserve", "W:2", "done", {})
                raise RuntimeError("inner")
        store.reserve("W:3", "DC-NJ", "SKU-TENT", 1)
    assert on_hand(store, "DC-NJ", "SKU-TENT")[1] == reserved + 2
    assert [a.key for a in store.audit_trail("EX-W").actions] == ["W:1"]
    assert store.get_reservation("W:3") is not None
