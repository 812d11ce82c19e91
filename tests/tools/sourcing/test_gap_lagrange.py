"""The GAP's Lagrangian (knapsack) lower bound: the knapsack against brute force, the bound
against brute-force optima, and the OR-Library bounds it proves."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import EXTERNAL
from tests.tools.sourcing.test_gap_search import type_d
from tools.sourcing.gap import read_gap_file, solve_gap
from tools.sourcing.gap_lagrange import (
    MAX_CELLS,
    applies,
    knapsack_min,
    lagrangian_bound,
    warm_up,
)
from tools.sourcing.gap_search import plan_cost, plan_fits

GAP = EXTERNAL / "gap" / "instances"
needs_gap = pytest.mark.skipif(
    not GAP.is_dir(), reason=f"the OR-Library instances are not at {GAP}"
)


def setup_module() -> None:
    warm_up()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-30, 30), st.integers(0, 12)), min_size=0, max_size=9),
    st.integers(0, 30),
)
def test_knapsack_matches_brute_force(items: list[tuple[int, int]], cap: int) -> None:
    profit = np.array([float(p) for p, _ in items])
    weight = np.array([w for _, w in items], dtype=np.int64)
    take = np.full(len(items), 7, dtype=np.int64)
    keep = np.zeros((len(items), cap + 1), dtype=np.bool_)
    value = knapsack_min(profit, weight, cap, keep, take)
    best = min(
        (
            float(profit[list(s)].sum())
            for r in range(len(items) + 1)
            for s in itertools.combinations(range(len(items)), r)
            if weight[list(s)].sum() <= cap
        ),
        default=0.0,
    )
    assert value == pytest.approx(best)
    assert set(take.tolist()) <= {0, 1}  # every entry written
    chosen = take.astype(bool)
    assert weight[chosen].sum() <= cap
    assert profit[chosen].sum() == pytest.approx(value)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 3), st.integers(3, 7), st.integers(0, 10_000), st.floats(1.0, 2.0))
def test_the_bound_never_exceeds_the_optimum(m: int, n: int, seed: int, room: float) -> None:
    cost, use, capacity = type_d(m, n, seed)
    capacity = np.floor(capacity * room)
    plans = np.asarray(list(itertools.product(range(m), repeat=n)), dtype=np.int64)
    costs = [plan_cost(cost, p) for p in plans if plan_fits(use, capacity, p)]
    found = lagrangian_bound(
        cost, use, capacity, upper=min(costs, default=1e6), deadline=math.inf, max_iterations=300
    )
    assert found is not None
    if costs:
        assert found.bound <= min(costs) + 1e-9
        assert found.value <= min(costs) + 1e-6
    assert found.bound == math.ceil(found.value - 1e-6)


def test_it_applies_to_integer_uses_and_small_tables_only() -> None:
    use = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert applies(use, np.array([5.0, 5.0]))
    assert not applies(use + 0.5, np.array([5.0, 5.0]))  # fractional uses
    assert not applies(-use, np.array([5.0, 5.0]))
    assert not applies(use, np.array([5.0, MAX_CELLS]))  # tables too large
    assert lagrangian_bound(use, use + 0.5, np.array([5.0, 5.0]), upper=1, deadline=1) is None
    # past its deadline it still evaluates L(u) once
    once = lagrangian_bound(use, use, np.array([5.0, 5.0]), upper=9, deadline=0.0)
    assert once is not None and once.iterations == 1 and math.isfinite(once.value)


@needs_gap
@pytest.mark.parametrize(
    ("name", "upper", "expected"),
    [
        # d20100's best known lower bound (bounds.txt: 6177); its LP bound is 6142.5
        ("d20100", 6218.0, 6177.0),
        # reaches the plan's cost: c20200's 2391 is optimal
        ("c20200", 2391.0, 2391.0),
    ],
)
def test_or_library_bounds(name: str, upper: float, expected: float) -> None:
    (instance,) = read_gap_file(GAP / f"{name}.txt")
    found = lagrangian_bound(
        instance.cost,
        instance.use,
        instance.capacity,
        upper=upper,
        deadline=math.inf,
        max_iterations=3_000,
    )
    assert found is not None and found.bound == expected
    if expected == upper:
        assert found.iterations < 3_000  # stopped once the plan was proven optimal


@needs_gap
def test_solve_gap_reports_the_lagrangian_bound() -> None:
    (instance,) = read_gap_file(GAP / "d10100.txt")
    result = solve_gap(instance, time_limit_s=4.0)
    assert result.lower_bound_source == "lagrangian"
    # above HiGHS's dual bound (6334 after 10 s), not above the best known lower bound 6345
    assert result.lower_bound is not None and 6334 < result.lower_bound <= 6345
    assert result.seconds <= 4.5
