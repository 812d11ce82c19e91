"""The expected-cost score: every term re-computed by hand, and the binomial tail."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tools.sourcing.builders import make_event
from tools.carriers import shipping_charge
from tools.geo import great_circle_km
from tools.priorities import BusinessPriorities
from tools.promise import estimate
from tools.sourcing.candidates import generate_candidates
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.score import (
    Leg,
    ScoreInput,
    binomial_at_least,
    cents,
    pick_probability,
    score,
)
from tools.sourcing.situation import apply_event
from tools.view import NetworkView

TERMS = (
    "shipping",
    "handling",
    "lateness_risk",
    "split_penalty",
    "inventory_risk",
    "node_strain",
    "margin_impact",
    "promise_change",
)


def brute_force_at_least(n: int, p: float, k: int) -> float:
    return sum(math.comb(n, x) * p**x * (1 - p) ** (n - x) for x in range(max(k, 0), n + 1))


@given(
    n=st.integers(min_value=0, max_value=60),
    p=st.floats(min_value=0.0, max_value=1.0),
    k=st.integers(min_value=-2, max_value=65),
)
@settings(max_examples=300, deadline=None)
def test_binomial_tail_matches_brute_force(n: int, p: float, k: int) -> None:
    assert binomial_at_least(n, p, k) == pytest.approx(brute_force_at_least(n, p, k), abs=1e-9)


def test_cents_rounds_half_to_even_like_numpy() -> None:
    assert cents(0.125) == 0.12 and cents(0.135) == 0.14 and cents(-1.005) == -1.0
    assert cents(12.3456) == 12.35


def test_reallocation_score_re_added_by_hand(
    view: NetworkView, priorities: BusinessPriorities, limits: SourcingLimits
) -> None:
    event = make_event(
        type="node_overload", orders=["O-1001"], node="STORE-BOS", details={"backlog_units": 1300}
    )
    new_view, sit = apply_event(view, event)
    cands = generate_candidates(new_view, sit, "O-1001", priorities, limits)
    cand = next(c for c in cands if c.kind == "reallocate")
    action = cand.actions[0]
    assert action.node is not None and action.carrier_service is not None
    order = new_view.orders["O-1001"]
    node = new_view.nodes[action.node]
    carrier, service = new_view.services[action.carrier_service]

    km = great_circle_km(node.lat, node.lon, order.ship_to.lat, order.ship_to.lon)
    shipping = shipping_charge(service, 4.5, km)
    promise = estimate(
        node,
        carrier,
        service,
        order.ship_to,
        order.promised_by,
        sit.release_at,
        reliability=new_view.reliability(carrier.id, order.ship_to.region),
    )
    assert promise is not None
    lateness = (1 - promise.on_time_probability) * 45.0  # gold d2c
    pos = new_view.position(node.id, "SKU-TENT")
    assert pos is not None
    p_pick = brute_force_at_least(pos.on_hand, node.inventory_accuracy, pos.reserved + 1)
    inventory = (1 - p_pick) * 15.0 * 1
    strain = 20.0 * max(0.0, (node.backlog_units + 1) / node.capacity_units_per_day - 0.85)

    s = cand.score
    assert s.shipping == round(shipping, 2)
    assert s.handling == node.handling_cost_per_order
    assert s.lateness_risk == pytest.approx(round(lateness, 2), abs=0.005)
    assert s.inventory_risk == pytest.approx(round(inventory, 2), abs=0.005)
    assert s.node_strain == pytest.approx(round(strain, 2), abs=0.005)
    assert s.split_penalty == s.margin_impact == s.promise_change == 0.0
    # The total is exactly the sum of the displayed terms.
    assert s.total == round(sum(getattr(s, t) for t in TERMS), 2)
    assert cand.eta == promise.arrives_at
    assert cand.on_time_probability == pytest.approx(promise.on_time_probability, abs=1e-4)


def test_keep_at_an_overloaded_node_pays_strain_and_lateness(
    view: NetworkView, priorities: BusinessPriorities, limits: SourcingLimits
) -> None:
    event = make_event(
        type="node_overload", orders=["O-1001"], node="STORE-BOS", details={"backlog_units": 1300}
    )
    new_view, sit = apply_event(view, event)
    keep = next(
        c
        for c in generate_candidates(new_view, sit, "O-1001", priorities, limits)
        if c.kind == "keep"
    )
    # 1300 / 400 = 325 % utilisation: strain 20 x (3.25 - 0.85); and it cannot arrive in time.
    assert keep.score.node_strain == 48.0
    assert keep.on_time_probability == 0.0
    assert keep.score.lateness_risk == 45.0
    assert any("node strain $48.00" in n for n in keep.score.notes)
    assert any("lateness risk $45.00" in n for n in keep.score.notes)


def test_every_term_of_a_composite_plan(view: NetworkView) -> None:
    """Split legs, cancelled lines and a promise move, with non-default weights."""
    prio = BusinessPriorities(
        cost_weight=2.0, split_penalty=5.0, failed_pick_cost=10.0, margin_weight=0.5
    )
    order = view.orders["O-1001"]  # gold d2c
    eta = order.promised_by - timedelta(days=1)
    legs = [
        Leg("DC-NJ", "PARCELCO-GROUND", (("SKU-TENT", 1),), 10.0, 2.5, 0.9, eta, added_units=1),
        Leg("DC-PA", "PARCELCO-GROUND", (("SKU-TENT", 1),), 12.0, 2.5, 0.8, eta, added_units=1),
    ]
    plan = ScoreInput(legs=legs, cancelled=[("SKU-TENT", 2, 189.0)], promise_shift_days=1.5)
    s = score(view, order, prio, plan)
    assert s.shipping == 44.0 and s.handling == 10.0
    assert s.split_penalty == 5.0
    assert s.lateness_risk == round((1 - 0.9 * 0.8) * 45.0, 2)
    risk = sum((1 - pick_probability(view, n, "SKU-TENT", 1)) * 10.0 for n in ("DC-NJ", "DC-PA"))
    assert s.inventory_risk == round(risk, 2)
    assert s.node_strain == 0.0  # DC-NJ 27 %, DC-PA 11 %
    assert s.margin_impact == round(0.5 * 2 * (189.0 - 60.0) + 90.0, 2)
    # days moved x the gold per-day goodwill + the broken promise (gold d2c lateness penalty)
    assert s.promise_change == 1.5 * 9.0 + 45.0
    assert s.total == round(sum(getattr(s, t) for t in TERMS), 2)
    assert score(view, order, prio, plan, explain=False).total == s.total
