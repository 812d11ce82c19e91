"""Idempotent effects of the act step and their compensations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tools.decisions import ActionLine
from tools.network import Allocation, NetworkSnapshot, OrderLine, OrderStatus, dump_snapshot
from tools.store import (
    EffectResult,
    InsufficientStock,
    InvalidRequest,
    KeyConflict,
    NotFound,
    Store,
)


def _state(store: Store) -> str:
    return dump_snapshot(store.export_snapshot())


def _position(store: Store, node: str, sku: str) -> tuple[int, int]:
    pos = store.get_position(node, sku)
    assert pos is not None
    return pos.on_hand, pos.reserved


def test_reassign_is_idempotent_and_compensable(northeast_store: Store) -> None:
    store = northeast_store
    before = store.get_order("O-1001")
    assert before is not None and before.allocation is not None
    target = Allocation(node="DC-NJ", carrier_service="PARCELCO-TWO_DAY")

    first = store.reassign_order("O-1001", target, OrderStatus.ALLOCATED, key="k1")
    again = store.reassign_order("O-1001", target, OrderStatus.ALLOCATED, key="k1")

    assert not first.replayed and again.replayed
    assert again.model_dump(exclude={"replayed"}) == first.model_dump(exclude={"replayed"})
    assert first.before["allocation"] == before.allocation.model_dump()
    after = store.get_order("O-1001")
    assert after is not None and after.allocation == target
    assert store.effect_applied("k1") and not store.effect_applied("k2")

    undo = store.compensate("k1")
    assert undo.compensates == "k1" and undo.key == "k1:undo"
    assert store.get_order("O-1001") == before
    assert store.compensate("k1").replayed  # compensating twice undoes once


def test_same_key_with_other_arguments_is_a_conflict(northeast_store: Store) -> None:
    store = northeast_store
    store.add_backlog("STORE-BOS", 10, key="k")
    with pytest.raises(KeyConflict, match="'k'"):
        store.add_backlog("STORE-BOS", 11, key="k")
    with pytest.raises(KeyConflict):
        store.set_order_status("O-1001", OrderStatus.RELEASED, key="k")


def test_failed_effects_change_nothing_and_leave_the_key_free(northeast_store: Store) -> None:
    store = northeast_store
    snapshot = _state(store)
    bad_calls: list[tuple[type[Exception], Any]] = [
        (NotFound, lambda: store.reassign_order("O-NOPE", None, "open", key="x")),
        (
            InvalidRequest,
            lambda: store.reassign_order(
                "O-1001", Allocation(node="NOWHERE", carrier_service="SWIFT-GROUND"), "open", "x"
            ),
        ),
        (
            InvalidRequest,
            lambda: store.reassign_order(
                "O-1001", Allocation(node="DC-NJ", carrier_service="NOPE"), "open", "x"
            ),
        ),
        (InvalidRequest, lambda: store.set_order_status("O-1001", "teleported", key="x")),
        (NotFound, lambda: store.add_backlog("NOWHERE", 5, key="x")),
        (InvalidRequest, lambda: store.release_hold("DC-NJ", "SKU-TENT", 0, key="x")),
        (NotFound, lambda: store.release_hold("DC-NJ", "SKU-NOPE", 1, key="x")),
        (
            InsufficientStock,
            lambda: store.transfer_inventory("DC-NJ", "DC-PA", "SKU-TENT", 10**6, "x"),
        ),
        (InvalidRequest, lambda: store.transfer_inventory("DC-NJ", "DC-NJ", "SKU-TENT", 1, "x")),
        (NotFound, lambda: store.transfer_inventory("DC-NJ", "NOWHERE", "SKU-TENT", 1, "x")),
        (InvalidRequest, lambda: store.cancel_order_lines("O-1001", [], key="x")),
        (
            InvalidRequest,
            lambda: store.cancel_order_lines("O-1001", [ActionLine(sku="SKU-TENT", qty=99)], "x"),
        ),
        (
            InvalidRequest,
            lambda: store.repromise_order("O-1001", datetime(2026, 12, 1), key="x"),
        ),
        (InvalidRequest, lambda: store.add_backlog("DC-NJ", 5, key="")),
        (NotFound, lambda: store.compensate("never-applied")),
    ]
    for error, call in bad_calls:
        with pytest.raises(error):
            call()
    assert _state(store) == snapshot
    assert not store.effect_applied("x")
    store.add_backlog("DC-NJ", 1, key="x")  # the key is still free to use
    assert store.effect_applied("x")


def test_cancel_lines_reduces_then_cancels(northeast_store: Store) -> None:
    store = northeast_store
    order = store.get_order("O-1002")
    assert order is not None
    skus = [(line.sku, line.qty) for line in order.lines]
    first_sku, first_qty = skus[0]

    if first_qty > 1:
        part = store.cancel_order_lines("O-1002", [ActionLine(sku=first_sku, qty=1)], "c1")
        reduced = store.get_order("O-1002")
        assert reduced is not None and reduced.lines[0].qty == first_qty - 1
        assert part.after["status"] == order.status.value
        store.compensate("c1")
        assert store.get_order("O-1002") == order

    everything = [ActionLine(sku=s, qty=q) for s, q in skus]
    result = store.cancel_order_lines("O-1002", everything, "c2")
    cancelled = store.get_order("O-1002")
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert cancelled.lines == order.lines  # kept as the record of what was cancelled
    assert result.before["status"] == order.status.value
    store.compensate("c2")
    assert store.get_order("O-1002") == order


def test_cancel_part_of_a_line_keeps_the_rest(store: Store, northeast: NetworkSnapshot) -> None:
    data = northeast.model_dump(mode="json")
    data["orders"][0]["lines"] = [
        {"sku": "SKU-TENT", "qty": 3, "unit_price": 189.0},
        {"sku": "SKU-LANTERN", "qty": 2, "unit_price": 20.0},
        {"sku": "SKU-TENT", "qty": 1, "unit_price": 150.0},
    ]
    store.load_snapshot(NetworkSnapshot.model_validate(data))
    order_id = data["orders"][0]["id"]
    store.cancel_order_lines(order_id, [ActionLine(sku="SKU-TENT", qty=3)], "c")
    order = store.get_order(order_id)
    assert order is not None
    assert [(line.sku, line.qty) for line in order.lines] == [("SKU-LANTERN", 2), ("SKU-TENT", 1)]
    store.cancel_order_lines(order_id, [ActionLine(sku="SKU-TENT", qty=1)], "d")
    order = store.get_order(order_id)
    assert order is not None and [line.sku for line in order.lines] == ["SKU-LANTERN"]
    assert order.status is not OrderStatus.CANCELLED


def test_backlog_never_goes_below_zero_and_undo_uses_what_was_applied(
    northeast_store: Store,
) -> None:
    store = northeast_store
    node = store.get_node("STORE-CAM")
    assert node is not None
    start = node.backlog_units
    taken = store.add_backlog("STORE-CAM", -(start + 50), key="b1")
    assert taken.after == {"backlog_units": 0, "applied": -start}
    store.compensate("b1")
    restored = store.get_node("STORE-CAM")
    assert restored is not None and restored.backlog_units == start
    store.add_backlog("STORE-CAM", 7, key="b2")
    again = store.get_node("STORE-CAM")
    assert again is not None and again.backlog_units == start + 7


def test_release_hold_frees_at_most_what_is_reserved(northeast_store: Store) -> None:
    store = northeast_store
    on_hand, reserved = _position(store, "STORE-BOS", "SKU-TENT")
    assert reserved > 0
    result = store.release_hold("STORE-BOS", "SKU-TENT", reserved + 5, key="h1")
    assert result.after["released"] == reserved
    assert _position(store, "STORE-BOS", "SKU-TENT") == (on_hand, 0)
    store.compensate("h1")  # holds the released units again
    assert _position(store, "STORE-BOS", "SKU-TENT") == (on_hand, reserved)
    nothing = store.release_hold("DC-PA", "SKU-TENT", 1, key="h2")  # nothing reserved there
    assert nothing.after["released"] == 0
    undo = store.compensate("h2")
    assert undo.kind == "nothing_to_undo" and undo.before == undo.after == {}
    untouched = store.get_position("DC-PA", "SKU-TENT")
    assert untouched is not None and untouched.reserved == 0


def test_transfer_moves_stock_but_never_below_reserved(northeast_store: Store) -> None:
    store = northeast_store
    src = store.get_position("DC-NJ", "SKU-TENT")
    assert src is not None
    movable = src.on_hand - src.reserved
    with pytest.raises(InsufficientStock) as info:
        store.transfer_inventory("DC-NJ", "STORE-BOS", "SKU-TENT", movable + 1, key="t0")
    assert info.value.available == movable
    dest_before = store.get_position("STORE-BOS", "SKU-TENT")
    assert dest_before is not None
    store.transfer_inventory("DC-NJ", "STORE-BOS", "SKU-TENT", movable, key="t1")
    assert _position(store, "DC-NJ", "SKU-TENT") == (src.reserved, src.reserved)
    assert _position(store, "STORE-BOS", "SKU-TENT")[0] == dest_before.on_hand + movable
    store.compensate("t1")
    assert store.get_position("DC-NJ", "SKU-TENT") == src
    assert store.get_position("STORE-BOS", "SKU-TENT") == dest_before


def test_transfer_creates_a_position_where_there_was_none(northeast_store: Store) -> None:
    store = northeast_store
    assert store.get_position("STORE-CAM", "SKU-KAYAK") is None
    store.transfer_inventory("DC-PA", "STORE-CAM", "SKU-KAYAK", 1, key="t")
    created = store.get_position("STORE-CAM", "SKU-KAYAK")
    assert created is not None and (created.on_hand, created.reserved) == (1, 0)
    exported = store.export_snapshot()
    assert exported.inventory[-1].node == "STORE-CAM"  # appended after the loaded positions


def test_repromise_and_status_round_trip(northeast_store: Store) -> None:
    store = northeast_store
    order = store.get_order("O-1003")
    assert order is not None
    later = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    store.repromise_order("O-1003", later, key="p")
    store.set_order_status("O-1003", OrderStatus.BACKORDERED, key="s")
    changed = store.get_order("O-1003")
    assert changed is not None
    assert changed.promised_by == later and changed.status is OrderStatus.BACKORDERED
    store.compensate("s")
    store.compensate("p")
    assert store.get_order("O-1003") == order


def test_restore_lines_validates_skus(northeast_store: Store) -> None:
    with pytest.raises(InvalidRequest, match=r"lines\[0\]\.sku"):
        northeast_store.restore_order_lines(
            "O-1001", [OrderLine(sku="SKU-NOPE", qty=1, unit_price=1.0)], "open", key="r"
        )


def test_effect_results_are_plain_models(northeast_store: Store) -> None:
    result = northeast_store.add_backlog("DC-PA", 3, key="m")
    assert isinstance(result, EffectResult)
    assert EffectResult.model_validate_json(result.model_dump_json()) == result


def test_racing_effects_apply_each_key_once_and_lose_no_update(northeast_store: Store) -> None:
    """16 threads: the same key many times (applied once) and distinct keys (all applied,
    no lost update), on the same rows."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    store = northeast_store
    node = store.get_node("STORE-PVD")
    assert node is not None
    start = threading.Barrier(16)

    def work(i: int) -> bool:
        start.wait()
        shared = store.add_backlog("STORE-PVD", 100, key="same-key")
        store.add_backlog("STORE-PVD", 1, key=f"distinct-{i}")
        store.transfer_inventory("DC-NJ", "STORE-PVD", "SKU-LANTERN", 1, key=f"move-{i}")
        return shared.replayed

    with ThreadPoolExecutor(16) as pool:
        replayed = list(pool.map(work, range(16)))
    assert replayed.count(False) == 1
    after = store.get_node("STORE-PVD")
    assert after is not None and after.backlog_units == node.backlog_units + 100 + 16
    moved = store.get_position("STORE-PVD", "SKU-LANTERN")
    assert moved is not None and moved.on_hand == 16


def test_opposite_transfers_at_once_neither_deadlock_nor_lose_units(northeast_store: Store) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    store = northeast_store
    total = sum(
        p.on_hand
        for p in (store.get_position("DC-NJ", "SKU-TENT"), store.get_position("DC-PA", "SKU-TENT"))
        if p is not None
    )
    start = threading.Barrier(12)

    def work(i: int) -> None:
        start.wait()
        src, dst = ("DC-NJ", "DC-PA") if i % 2 else ("DC-PA", "DC-NJ")
        store.transfer_inventory(src, dst, "SKU-TENT", 3, key=f"x-{i}")

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(work, range(12)))
    nj, pa = store.get_position("DC-NJ", "SKU-TENT"), store.get_position("DC-PA", "SKU-TENT")
    assert nj is not None and pa is not None
    assert nj.on_hand + pa.on_hand == total
