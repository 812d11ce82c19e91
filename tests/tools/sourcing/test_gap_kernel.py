"""The compiled (numba) inner loop of the GAP tabu search, against brute force and the numpy
loop. numba compiles once per machine (cache=True); no test here depends on timing."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.tools.sourcing.test_gap_search import FAR, start_plan, type_d
from tools.sourcing import gap_kernel
from tools.sourcing.gap_search import GapSearchSettings, plan_cost, plan_fits, tabu_search
from tools.sourcing.problem import CAPACITY_EPS


def run(cost, use, capacity, start, iterations: int, seed: int = 0, compiled: bool = True):
    return tabu_search(
        cost,
        use,
        capacity,
        start,
        deadline=time.perf_counter() + FAR,
        settings=GapSearchSettings(max_iterations=iterations, seed=seed, compiled=compiled),
    )


@pytest.mark.parametrize("seed", range(8))
def test_kernel_plans_fit_and_report_their_real_cost(seed: int) -> None:
    cost, use, capacity = type_d(4 + seed % 3, 30 + 5 * seed, seed)
    start = start_plan(cost, use, capacity)
    best, stats = run(cost, use, capacity, start, 600, seed)
    assert stats.iterations == 600
    assert plan_fits(use, capacity, best)
    assert stats.best_objective == plan_cost(cost, best) <= plan_cost(cost, start)
    if stats.history:  # the best cost the kernel tracked is the recomputed one
        assert stats.history[-1][1] == pytest.approx(stats.best_objective)


@pytest.mark.parametrize("compiled", [True, False])
def test_both_loops_find_the_brute_force_optimum_of_tiny_instances(compiled: bool) -> None:
    for seed in range(6):
        m, n = 3, 7
        cost, use, capacity = type_d(m, n, 100 + seed)
        capacity = capacity * 1.6  # room for a few plans
        plans = np.asarray(list(itertools.product(range(m), repeat=n)), dtype=np.int64)
        fits = [plan_fits(use, capacity, p) for p in plans]
        if not any(fits):
            continue
        costs = [plan_cost(cost, p) for p, f in zip(plans, fits, strict=True) if f]
        worst = plans[[i for i, f in enumerate(fits) if f][int(np.argmax(costs))]]
        best, stats = run(cost, use, capacity, worst, 1500, seed, compiled)
        assert plan_fits(use, capacity, best)
        assert stats.best_objective == min(costs)


def test_the_kernel_is_as_good_as_the_numpy_loop_on_a_fixed_budget() -> None:
    """Same moves and rules, scores equal up to rounding: over seeds, neither is far apart."""
    cost, use, capacity = type_d(8, 60, 7)
    start = start_plan(cost, use, capacity)
    ours = [run(cost, use, capacity, start, 1500, s)[1].best_objective for s in range(4)]
    numpy_loop = [
        run(cost, use, capacity, start, 1500, s, compiled=False)[1].best_objective for s in range(4)
    ]
    assert min(ours) <= min(numpy_loop) * 1.01
    assert max(ours) <= plan_cost(cost, start)


def test_a_seed_is_reproducible_and_other_seeds_differ() -> None:
    cost, use, capacity = type_d(6, 50, 3)
    start = start_plan(cost, use, capacity)
    first = run(cost, use, capacity, start, 2500, seed=5)
    again = run(cost, use, capacity, start, 2500, seed=5)
    assert first[0].tolist() == again[0].tolist()
    assert first[1].history == again[1].history
    assert first[1].restarts == again[1].restarts
    assert first[1].feasible_iterations == again[1].feasible_iterations
    others = {tuple(run(cost, use, capacity, start, 2500, seed=s)[1].history) for s in range(4)}
    assert len(others) > 1


def _chunked(cost, use, capacity, start, chunks: list[int]) -> tuple[list[int], float, int]:
    """Drive `run_chunk` directly in the given chunk sizes."""
    m, n = cost.shape
    b = capacity + CAPACITY_EPS
    x = start.astype(np.int64).copy()
    load = np.zeros(m)
    np.add.at(load, x, use[x, np.arange(n)])
    c0 = plan_cost(cost, x)
    best = x.copy()
    fstate = np.array([c0, c0, 1.0])
    istate = np.zeros(gap_kernel.INT_STATE, dtype=np.int64)
    rng = gap_kernel.seed_state(9)
    tabu = np.zeros((m, n), dtype=np.int64)
    fparam = np.array([1.0, 1.1, 1.1, 1e-3, 1e3])
    iparam = np.array([2, 6, 300, 1, 3, -1], dtype=np.int64)
    ok = np.ones((m, n), dtype=np.bool_)
    for steps in chunks:
        hist = (np.zeros(steps, dtype=np.int64), np.zeros(steps))
        istate[gap_kernel.HISTORY] = 0
        done = gap_kernel.run_chunk(
            cost, use, b, ok, x, load, tabu, best, fparam, iparam, fstate, istate, rng, *hist, steps
        )
        assert done == steps
    assert np.allclose(load, np.bincount(x, weights=use[x, np.arange(n)], minlength=m))
    assert fstate[gap_kernel.CUR_COST] == pytest.approx(plan_cost(cost, x))
    return best.tolist(), float(fstate[gap_kernel.BEST_COST]), int(istate[gap_kernel.IT])


def test_cutting_a_run_into_chunks_does_not_change_it() -> None:
    cost, use, capacity = type_d(5, 40, 11)
    start = start_plan(cost, use, capacity)
    whole = _chunked(cost, use, capacity, start, [900])
    cut = _chunked(cost, use, capacity, start, [1, 7, 92, 300, 500])
    assert whole == cut
    assert whole[1] == plan_cost(cost, np.asarray(whole[0]))
    assert whole[2] == 900


def test_warm_up_compiles_and_reports_seconds() -> None:
    assert gap_kernel.warm_up() >= 0.0


def test_numba_is_imported_only_when_the_gap_search_runs() -> None:
    code = (
        "import sys, api.cli, api.app, tools.sourcing.gap, tools.sourcing.gap_search, "
        "tools.sourcing.assignment; print('numba' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
