"""The inventory tool: ATP, pick confidence, reservations (single-threaded semantics and
hypothesis properties; races are in test_inventory_concurrency.py)."""

from __future__ import annotations

import itertools
import uuid
from fractions import Fraction
from math import comb

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tools.inventory import (
    Availability,
    InsufficientStock,
    Inventory,
    KeyConflict,
    NotFound,
    ReservationState,
    atp,
    availability,
    binomial_tail,
    pick_confidence,
    release,
    reserve,
)
from tools.network import NetworkSnapshot
from tools.store import Store


def exact_tail(n: int, k: int, p: Fraction) -> Fraction:
    terms = (comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(max(k, 0), n + 1))
    return sum(terms, Fraction(0))


# ---------------------------------------------------------------- pick confidence


@given(
    n=st.integers(0, 60),
    k=st.integers(-2, 64),
    p=st.fractions(min_value=0, max_value=1, max_denominator=1000),
)
def test_binomial_tail_matches_exact_rational_arithmetic(n: int, k: int, p: Fraction) -> None:
    assert binomial_tail(n, k, float(p)) == pytest.approx(float(exact_tail(n, k, p)), abs=1e-12)


@given(n=st.integers(1, 5000), p=st.floats(0.5, 0.999))
def test_binomial_tail_is_a_decreasing_probability(n: int, p: float) -> None:
    ks = sorted({0, 1, n // 3, n // 2, int(n * p), n - 1, n})
    values = [binomial_tail(n, k, p) for k in ks]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(values))


def test_pick_confidence_edges() -> None:
    assert pick_confidence(12, 2, 0, 0.5) == pytest.approx(float(exact_tail(12, 2, Fraction(1, 2))))
    assert pick_confidence(10, 0, 0, 0.0) == 1.0  # nothing needed
    assert pick_confidence(10, 0, 1, 0.0) == 0.0  # nothing is really there
    assert pick_confidence(10, 4, 6, 1.0) == 1.0  # perfect records, exactly enough
    assert pick_confidence(10, 4, 7, 1.0) == 0.0  # one more than on record
    assert pick_confidence(1, 0, 1, 0.92) == pytest.approx(0.92)
    assert pick_confidence(12, 2, 10, 0.92) == pytest.approx(0.92**12)
    # A big DC: millions of units, answered at once and sensibly.
    assert pick_confidence(1_000_000, 0, 989_000, 0.99) == pytest.approx(1.0)
    assert pick_confidence(1_000_000, 0, 991_000, 0.99) < 1e-20


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-1, 0, 1, 0.9), "on_hand"),
        ((5, -1, 1, 0.9), "reserved"),
        ((5, 0, -1, 0.9), "qty"),
        ((5, 0, 1, 1.5), "accuracy"),
        ((5, 0, 1, -0.1), "accuracy"),
    ],
)
def test_pick_confidence_names_bad_arguments(args: tuple, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        pick_confidence(*args)


def test_availability_promisable_is_the_largest_confident_quantity() -> None:
    a = Availability(node="N", sku="S", on_hand=40, reserved=5, safety_stock=3, accuracy=0.95)
    assert a.atp == 32 and a.atp_including_safety_stock == 35
    for level in (0.5, 0.9, 0.99):
        q = a.promisable(level)
        assert 0 <= q <= a.atp
        assert q == 0 or a.confidence(q) >= level
        assert q == a.atp or a.confidence(q + 1) < level
    assert a.promisable(0.0) == a.atp
    assert a.promisable(0.0, include_safety_stock=True) == 35


# ---------------------------------------------------------------- atp from views and stores


def test_atp_from_a_view_and_from_the_store_agree(northeast_store: Store) -> None:
    view = northeast_store.view()
    for pos in view.snapshot.inventory:
        assert atp(view, pos.node, pos.sku) == atp(northeast_store, pos.node, pos.sku) == pos.atp
        assert atp(northeast_store, pos.node, pos.sku, include_safety_stock=True) == (
            pos.on_hand - pos.reserved
        )
    assert atp(view, "STORE-CAM", "SKU-KAYAK") == 0
    assert atp(northeast_store, "STORE-CAM", "SKU-KAYAK") == 0
    bos = availability(northeast_store, "STORE-BOS", "SKU-TENT")
    assert (bos.on_hand, bos.reserved, bos.safety_stock, bos.atp) == (12, 2, 1, 9)
    assert bos.accuracy == 0.92
    assert availability(view, "STORE-BOS", "SKU-TENT") == bos
    with pytest.raises(NotFound):
        availability(northeast_store, "NOWHERE", "SKU-TENT")


def test_learned_accuracy_feeds_availability(northeast_store: Store) -> None:
    northeast_store.record_pick("STORE-BOS", 10, 6, key="pick-1")
    learned = availability(northeast_store, "STORE-BOS", "SKU-TENT")
    assert learned.accuracy < 0.92
    assert availability(northeast_store.view(), "STORE-BOS", "SKU-TENT") == learned


# ---------------------------------------------------------------- reserve / release


def test_reserve_and_release_once(northeast_store: Store) -> None:
    inv = Inventory(northeast_store)
    assert inv.atp("STORE-BOS", "SKU-TENT") == 9
    held = inv.reserve("r1", "STORE-BOS", "SKU-TENT", 4)
    assert held.state is ReservationState.HELD and not held.replayed
    assert inv.atp("STORE-BOS", "SKU-TENT") == 5
    again = inv.reserve("r1", "STORE-BOS", "SKU-TENT", 4)
    assert again.replayed and again.created_at == held.created_at
    assert inv.atp("STORE-BOS", "SKU-TENT") == 5  # not applied twice
    released = inv.release("r1")
    assert released.state is ReservationState.RELEASED and released.released_at is not None
    assert inv.atp("STORE-BOS", "SKU-TENT") == 9
    assert inv.release("r1").replayed
    assert inv.atp("STORE-BOS", "SKU-TENT") == 9  # released once
    assert inv.reserve("r1", "STORE-BOS", "SKU-TENT", 4).state is ReservationState.RELEASED


def test_reserve_at_below_and_above_the_available_units(northeast_store: Store) -> None:
    # STORE-BOS/SKU-TENT: on_hand 12, reserved 2, safety 1 -> ATP 9, 10 with safety stock.
    with pytest.raises(InsufficientStock) as info:
        reserve(northeast_store, "over", "STORE-BOS", "SKU-TENT", 10)
    err = info.value
    assert (err.node, err.sku, err.requested, err.available) == ("STORE-BOS", "SKU-TENT", 10, 9)
    assert "STORE-BOS/SKU-TENT" in str(err) and "requested 10" in str(err)
    assert "available 9" in str(err)
    assert northeast_store.get_reservation("over") is None  # nothing held, key still free
    reserve(northeast_store, "below", "STORE-BOS", "SKU-TENT", 8)
    reserve(northeast_store, "at", "STORE-BOS", "SKU-TENT", 1)
    with pytest.raises(InsufficientStock):
        reserve(northeast_store, "safety", "STORE-BOS", "SKU-TENT", 1)
    reserve(northeast_store, "safety", "STORE-BOS", "SKU-TENT", 1, allow_safety_stock=True)
    pos = northeast_store.get_position("STORE-BOS", "SKU-TENT")
    assert pos is not None and pos.reserved == pos.on_hand == 12
    with pytest.raises(InsufficientStock) as info:
        reserve(northeast_store, "none", "STORE-BOS", "SKU-TENT", 1, allow_safety_stock=True)
    assert info.value.available == 0


def test_reservation_errors_are_clear(northeast_store: Store) -> None:
    reserve(northeast_store, "k", "DC-NJ", "SKU-TENT", 2)
    for other in (("DC-PA", "SKU-TENT", 2), ("DC-NJ", "SKU-LANTERN", 2), ("DC-NJ", "SKU-TENT", 3)):
        with pytest.raises(KeyConflict, match="'k'"):
            reserve(northeast_store, "k", *other)
    with pytest.raises(NotFound, match="reservation 'ghost'"):
        release(northeast_store, "ghost")
    with pytest.raises(NotFound, match="STORE-CAM/SKU-KAYAK"):
        reserve(northeast_store, "k2", "STORE-CAM", "SKU-KAYAK", 1)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="qty"):
            reserve(northeast_store, "k3", "DC-NJ", "SKU-TENT", bad)
    assert northeast_store.held_reservations() == [northeast_store.get_reservation("k")]


# ---------------------------------------------------------------- stateful property test

NODE, SKU = "DC-PA", "SKU-KAYAK"  # on_hand 12, reserved 0, safety stock 1


class ReservationMachine(RuleBasedStateMachine):
    """Random interleavings of reserve/release with repeated keys against a real store."""

    store: Store
    snapshot: NetworkSnapshot

    def __init__(self) -> None:
        super().__init__()
        self.run = uuid.uuid4().hex[:8]
        self.store.load_snapshot(self.snapshot)  # back to the loaded network
        start = self.store.get_position(NODE, SKU)
        assert start is not None
        self.on_hand, self.start_reserved = start.on_hand, start.reserved
        self.model: dict[str, tuple[int, str]] = {}  # key -> (qty, state) as we expect it

    def key(self, i: int) -> str:
        return f"{self.run}-{i}"

    @rule(i=st.integers(0, 7), qty=st.integers(1, 6), safety=st.booleans())
    def reserve(self, i: int, qty: int, safety: bool) -> None:
        key = self.key(i)
        if key in self.model and self.model[key][0] != qty:
            with pytest.raises(KeyConflict):
                reserve(self.store, key, NODE, SKU, qty, allow_safety_stock=safety)
            return
        free = self.on_hand - self.reserved_expected() - (0 if safety else 1)
        if key not in self.model and qty > max(0, free):
            with pytest.raises(InsufficientStock) as info:
                reserve(self.store, key, NODE, SKU, qty, allow_safety_stock=safety)
            assert info.value.available == max(0, free)
            return
        got = reserve(self.store, key, NODE, SKU, qty, allow_safety_stock=safety)
        assert got.replayed == (key in self.model)
        self.model.setdefault(key, (qty, "held"))
        assert got.state.value == self.model[key][1]

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        got = release(self.store, key)
        qty, state = self.model[key]
        assert got.replayed == (state == "released")
        self.model[key] = (qty, "released")

    @rule(i=st.integers(100, 103))
    def release_unknown(self, i: int) -> None:
        with pytest.raises(NotFound):
            release(self.store, self.key(i))

    def reserved_expected(self) -> int:
        return self.start_reserved + sum(q for q, s in self.model.values() if s == "held")

    @invariant()
    def reserved_is_within_on_hand_and_matches_the_ledger(self) -> None:
        pos = self.store.get_position(NODE, SKU)
        assert pos is not None
        assert 0 <= pos.reserved <= pos.on_hand == self.on_hand
        held = [r for r in self.store.held_reservations(NODE, SKU) if r.key.startswith(self.run)]
        assert pos.reserved - self.start_reserved == sum(r.qty for r in held)
        assert pos.reserved == self.reserved_expected()
        assert len({r.key for r in held}) == len(held)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_interleaving_oversells_or_double_applies(
    backend: str, request: pytest.FixtureRequest, northeast: NetworkSnapshot
) -> None:
    store: Store = request.getfixturevalue("sqlite_store" if backend == "sqlite" else "pg_store")
    ReservationMachine.store = store
    ReservationMachine.snapshot = northeast
    examples = 40 if backend == "sqlite" else 20
    ReservationMachine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    ReservationMachine.TestCase().runTest()
