"""Learning from outcomes: Beta posteriors with a strength-20 prior and forgetting 0.97."""

from __future__ import annotations

import pytest

from tools.store import InvalidRequest, KeyConflict, NotFound, Store
from tools.store.learning import FORGETTING, PRIOR_STRENGTH
from tools.view import lane_key


def test_first_delivery_updates_the_snapshot_prior(northeast_store: Store) -> None:
    prior = northeast_store.view([]).carriers["PARCELCO"].on_time_rate
    late = northeast_store.record_delivery("PARCELCO", "NE", on_time=False, key="d1")
    alpha = PRIOR_STRENGTH * prior * FORGETTING
    beta = PRIOR_STRENGTH * (1 - prior) * FORGETTING + 1
    assert (late.alpha, late.beta) == pytest.approx((alpha, beta))
    assert late.observations == 1 and late.key == lane_key("PARCELCO", "NE")
    assert late.mean == pytest.approx(alpha / (alpha + beta))
    assert northeast_store.reliability_posteriors() == {"PARCELCO/NE": pytest.approx(late.mean)}


def test_updates_are_idempotent_by_key(northeast_store: Store) -> None:
    first = northeast_store.record_delivery("SWIFT", "NE", on_time=True, key="d1")
    again = northeast_store.record_delivery("SWIFT", "NE", on_time=True, key="d1")
    assert again.replayed and again.model_dump(exclude={"replayed"}) == first.model_dump(
        exclude={"replayed"}
    )
    assert northeast_store.record_delivery("SWIFT", "NE", True, key="d2").observations == 2
    with pytest.raises(KeyConflict):
        northeast_store.record_delivery("SWIFT", "NE", on_time=False, key="d1")
    pick = northeast_store.record_pick("DC-NJ", 5, 5, key="p1")
    assert northeast_store.record_pick("DC-NJ", 5, 5, key="p1").replayed
    assert northeast_store.accuracy_posteriors()["DC-NJ"] == pytest.approx(pick.mean)


def test_reliability_recovers_after_a_bad_spell(northeast_store: Store) -> None:
    """Forgetting lets the posterior follow the lane: down during a disruption, back up after."""
    prior = northeast_store.view([]).carriers["PARCELCO"].on_time_rate
    for i in range(40):
        low = northeast_store.record_delivery("PARCELCO", "SE", on_time=False, key=f"bad-{i}")
    assert low.mean < 0.3
    for i in range(120):
        high = northeast_store.record_delivery("PARCELCO", "SE", on_time=True, key=f"good-{i}")
    assert high.mean > prior - 0.05
    # Effective sample size is bounded by 1 / (1 - 0.97) ~ 33: old evidence fades.
    assert high.alpha + high.beta < 1 / (1 - FORGETTING) + 1


def test_picks_teach_accuracy(northeast_store: Store) -> None:
    prior = northeast_store.view([]).nodes["STORE-BOS"].inventory_accuracy
    short = northeast_store.record_pick("STORE-BOS", expected_units=4, picked_units=1, key="p1")
    assert (short.alpha, short.beta) == pytest.approx(
        (PRIOR_STRENGTH * prior * FORGETTING + 1, PRIOR_STRENGTH * (1 - prior) * FORGETTING + 3)
    )
    extra = northeast_store.record_pick("STORE-BOS", expected_units=2, picked_units=5, key="p2")
    assert extra.beta == pytest.approx(short.beta * FORGETTING)  # found more: all there
    nothing = northeast_store.record_pick("STORE-BOS", expected_units=0, picked_units=0, key="p3")
    assert (nothing.alpha, nothing.beta, nothing.observations) == (
        extra.alpha,
        extra.beta,
        extra.observations,
    )
    assert northeast_store.view(["O-1001"]).accuracy("STORE-BOS") == pytest.approx(extra.mean)


def test_bad_outcomes_are_refused(northeast_store: Store) -> None:
    with pytest.raises(NotFound, match="carrier"):
        northeast_store.record_delivery("NOPE", "NE", on_time=True, key="x")
    with pytest.raises(NotFound, match="node"):
        northeast_store.record_pick("NOWHERE", 1, 1, key="x")
    with pytest.raises(InvalidRequest, match="picked_units"):
        northeast_store.record_pick("DC-NJ", 1, -1, key="x")
    with pytest.raises(InvalidRequest, match="expected_units"):
        northeast_store.record_pick("DC-NJ", -1, 0, key="x")
    assert not northeast_store.effect_applied("x")
    assert northeast_store.reliability_posteriors() == {}
    assert northeast_store.accuracy_posteriors() == {}


def test_concurrent_outcomes_are_all_counted(northeast_store: Store) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(12)

    def record(i: int) -> None:
        start.wait()
        northeast_store.record_delivery("PARCELCO", "MW", on_time=i % 2 == 0, key=f"c-{i}")
        northeast_store.record_delivery("PARCELCO", "MW", on_time=True, key="c-same")

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(record, range(12)))
    final = northeast_store.record_delivery("PARCELCO", "MW", on_time=True, key="c-last")
    assert final.observations == 12 + 1 + 1
