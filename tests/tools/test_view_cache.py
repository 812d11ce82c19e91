"""Network reads cached by change counters: reused only while nothing they hold has changed.

Every watched table is changed behind the store's back (raw SQL on another connection, as
another process or an operator would) and the next view must show it; a view read inside a
unit of work that rolls back must never be served afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from tools.network import NetworkSnapshot
from tools.store import Store
from tools.store.reader import view as uncached_view
from tools.store.schema import WATCHED_TABLES
from tools.view import NetworkView

ORDERS = ["O-1001", "O-1002"]


def _db_file(store: Store) -> str:
    database = store.engine.url.database
    assert database
    return database


def _same(a: NetworkView, b: NetworkView) -> bool:
    return (
        a.snapshot.model_dump(mode="json") == b.snapshot.model_dump(mode="json")
        and dict(a.carrier_reliability) == dict(b.carrier_reliability)
        and dict(a.node_accuracy) == dict(b.node_accuracy)
    )


@pytest.fixture
def cached(sqlite_store: Store, northeast: NetworkSnapshot) -> Store:
    sqlite_store.load_snapshot(northeast)
    return sqlite_store


def test_an_unchanged_network_is_served_from_the_cache(cached: Store) -> None:
    first = cached.view(ORDERS)
    assert cached.view(ORDERS) is first
    assert cached.view(list(reversed(ORDERS))) is first  # the same orders, in any order
    assert cached.view(ORDERS[:1]) is not first  # other orders: another view
    assert _same(first, uncached_view(cached.engine, ORDERS))
    whole = cached.view(None)  # the whole network: rebuilt from cached parts, not kept whole
    assert cached.view(None) is not whole and _same(cached.view(None), whole)
    assert cached.view(None).snapshot.nodes[0] is whole.snapshot.nodes[0]  # parts are shared


# (table, a change made by another connection, what the next view must show)
CHANGES = [
    ("inventory", "UPDATE inventory SET on_hand = 4242 WHERE node = 'DC-NJ' AND sku = 'SKU-TENT'",
     lambda v: v.inventory[("DC-NJ", "SKU-TENT")].on_hand == 4242),
    ("nodes", "UPDATE nodes SET backlog_units = 777 WHERE id = 'DC-NJ'",
     lambda v: v.nodes["DC-NJ"].backlog_units == 777),
    ("skus", "UPDATE skus SET weight_kg = 99.5 WHERE id = 'SKU-TENT'",
     lambda v: v.skus["SKU-TENT"].weight_kg == 99.5),
    ("carriers", "UPDATE carriers SET on_time_rate = 0.123 WHERE id = 'PARCELCO'",
     lambda v: v.carriers["PARCELCO"].on_time_rate == 0.123),
    ("carrier_services", "UPDATE carrier_services SET base_rate = 55.5",
     lambda v: all(s.base_rate == 55.5 for _, s in v.services.values())),
    ("orders", "UPDATE orders SET customer_tier = 'silver' WHERE id = 'O-1001'",
     lambda v: v.orders["O-1001"].customer_tier.value == "silver"),
    ("order_lines", "UPDATE order_lines SET qty = 9 WHERE order_id = 'O-1001'",
     lambda v: all(line.qty == 9 for line in v.orders["O-1001"].lines)),
    ("network_meta", "UPDATE network_meta SET value = '2030-01-01T00:00:00Z' WHERE key = 'as_of'",
     lambda v: v.as_of.year == 2030),
    ("lane_reliability",
     "INSERT INTO lane_reliability VALUES ('PARCELCO', 'NE', 1, 99, 100, '2026-01-01 00:00:00')",
     lambda v: abs(v.reliability("PARCELCO", "NE") - 0.01) < 1e-9),
    ("node_accuracy",
     "INSERT INTO node_accuracy VALUES ('DC-NJ', 1, 3, 4, '2026-01-01 00:00:00')",
     lambda v: abs(v.accuracy("DC-NJ") - 0.25) < 1e-9),
]  # fmt: skip


def test_every_watched_table_is_covered() -> None:
    assert sorted(t for t, _, _ in CHANGES) == sorted(WATCHED_TABLES)


@pytest.mark.parametrize(("table", "sql", "shows"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_change_by_another_connection_is_seen_at_once(
    cached: Store, table: str, sql: str, shows: object
) -> None:
    for ids in (ORDERS, None):  # a scoped view and the whole network
        cached.view(ids)
    with sqlite3.connect(_db_file(cached)) as raw:  # another process, an operator...
        raw.execute(sql)
    for ids in (ORDERS, None):
        after = cached.view(ids)
        assert callable(shows) and shows(after), f"a change to {table} was not seen"
        assert _same(after, uncached_view(cached.engine, ids))


def test_a_view_read_in_a_unit_that_rolls_back_is_never_served(cached: Store) -> None:
    before = cached.view(ORDERS)
    held = before.inventory[("DC-NJ", "SKU-TENT")].reserved
    with pytest.raises(RuntimeError), cached.unit_of_work():
        cached.reserve("RB:1", "DC-NJ", "SKU-TENT", 1)
        inside = cached.view(ORDERS)
        assert inside.inventory[("DC-NJ", "SKU-TENT")].reserved == held + 1
        raise RuntimeError("roll back")
    after = cached.view(ORDERS)
    assert after.inventory[("DC-NJ", "SKU-TENT")].reserved == held
    # a later committed change brings the counter to the value the rolled-back one had
    cached.reserve("RB:2", "DC-NJ", "SKU-TENT", 2)
    again = cached.view(ORDERS)
    assert again.inventory[("DC-NJ", "SKU-TENT")].reserved == held + 2
    assert _same(again, uncached_view(cached.engine, ORDERS))


def test_the_store_s_own_effects_and_a_snapshot_refresh_invalidate(
    cached: Store, northeast: NetworkSnapshot, tmp_path: Path
) -> None:
    first = cached.view(ORDERS)
    cached.reserve("OWN:1", "DC-NJ", "SKU-TENT", 1)
    second = cached.view(ORDERS)
    assert second is not first and _same(second, uncached_view(cached.engine, ORDERS))
    cached.add_backlog("DC-NJ", 5, "OWN:2")
    third = cached.view(ORDERS)
    assert third.nodes["DC-NJ"].backlog_units == first.nodes["DC-NJ"].backlog_units + 5
    cached.load_snapshot(northeast)  # refresh: back to the file's numbers
    fourth = cached.view(ORDERS)
    assert _same(fourth, uncached_view(cached.engine, ORDERS))


def test_postgres_stores_never_cache(pg_store: Store, northeast: NetworkSnapshot) -> None:
    pg_store.load_snapshot(northeast)
    first = pg_store.view(ORDERS)
    assert pg_store.view(ORDERS) is not first
    with pg_store.engine.begin() as conn:
        conn.execute(text("UPDATE nodes SET backlog_units = 31 WHERE id = 'DC-NJ'"))
    assert pg_store.view(ORDERS).nodes["DC-NJ"].backlog_units == 31


def test_a_view_of_no_orders_outlives_order_and_stock_changes_only(cached: Store) -> None:
    """The simulated carrier reads nodes and carriers only (`view(())`): a reservation or an
    order change does not make it read them again; a node change does."""
    first = cached.view(())
    with sqlite3.connect(_db_file(cached)) as raw:
        for table, sql, _ in CHANGES:
            if table in ("inventory", "orders", "order_lines"):
                raw.execute(sql)
    assert cached.view(()) is first
    with sqlite3.connect(_db_file(cached)) as raw:
        raw.execute("UPDATE nodes SET backlog_units = 777 WHERE id = 'DC-NJ'")
    after = cached.view(())
    assert after is not first and after.nodes["DC-NJ"].backlog_units == 777
    assert _same(after, uncached_view(cached.engine, ()))
