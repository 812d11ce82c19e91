"""The dedicated GAP phase: tabu search with strategic oscillation and ejection chains."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from tools.sourcing.assignment import (
    AssignmentBuilder,
    SolverSettings,
    from_matrix,
    solve_assignment,
)
from tools.sourcing.gap_search import (
    GapSearchError,
    GapSearchSettings,
    dense_gap,
    plan_cost,
    plan_fits,
    tabu_search,
)
from tools.sourcing.problem import AssignmentProblem, Method

FAR = 1e9  # a deadline that never stops these runs: they are bounded by iterations


def type_d(m: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random instance like OR-Library type D: costs inversely related to resource use,
    capacities at 80 % of the average load per agent."""
    rng = np.random.default_rng(seed)
    use = rng.integers(1, 101, size=(m, n)).astype(np.float64)
    cost = np.maximum(1.0, 111.0 - use + rng.integers(-10, 11, size=(m, n)))
    capacity = np.floor(0.8 * use.sum(axis=1) / m)
    return cost, use, capacity


def start_plan(cost: np.ndarray, use: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """A feasible plan from the engine's construction phase (LP rounding, repair, local search)."""
    problem = from_matrix(cost, use, capacity)
    solution = solve_assignment(
        problem, SolverSettings(time_limit_s=FAR, mip_max_options=0, lns_rounds=0)
    )
    assert solution.feasible
    return np.asarray([k % cost.shape[0] for k in solution.choice], dtype=np.int64)


def settings(iterations: int, seed: int = 0) -> GapSearchSettings:
    return GapSearchSettings(max_iterations=iterations, seed=seed)


@pytest.mark.parametrize("seed", range(6))
def test_plans_fit_and_are_never_worse_than_the_start(seed: int) -> None:
    cost, use, capacity = type_d(5, 30 + 5 * seed, seed)
    start = start_plan(cost, use, capacity)
    best, stats = tabu_search(
        cost, use, capacity, start, deadline=time.perf_counter() + FAR, settings=settings(400)
    )
    assert plan_fits(use, capacity, best)
    assert plan_cost(cost, best) <= plan_cost(cost, start)
    assert stats.best_objective == plan_cost(cost, best)
    assert stats.start_objective == plan_cost(cost, start)
    assert stats.iterations == 400
    # The search crosses the capacity boundary both ways (strategic oscillation).
    assert 0 < stats.feasible_iterations < stats.iterations


def test_it_improves_a_poor_start() -> None:
    cost, use, capacity = type_d(5, 40, 11)
    # A poor but feasible start: each job on the agent where it uses least capacity.
    start = np.argmin(use, axis=0).astype(np.int64)
    assert plan_fits(use, capacity, start)
    best, stats = tabu_search(
        cost, use, capacity, start, deadline=time.perf_counter() + FAR, settings=settings(300)
    )
    assert plan_fits(use, capacity, best)
    assert plan_cost(cost, best) < plan_cost(cost, start) - 100
    assert stats.improvements > 0 and stats.history[-1][1] == stats.best_objective


def test_it_finds_the_optimum_of_small_instances_from_their_worst_plan() -> None:
    for seed in range(3):
        cost, use, capacity = type_d(3, 9, seed)
        m, n = cost.shape
        plans = np.asarray(list(itertools.product(range(m), repeat=n)), dtype=np.int64)
        jobs = np.arange(n)
        costs = cost[plans, jobs].sum(axis=1)
        loads = np.stack([(use[plans, jobs] * (plans == i)).sum(axis=1) for i in range(m)], 1)
        fits = np.all(loads <= capacity, axis=1)
        assert fits.any()
        worst = plans[fits][np.argmax(costs[fits])]
        best, _ = tabu_search(
            cost, use, capacity, worst, deadline=time.perf_counter() + FAR, settings=settings(300)
        )
        assert plan_cost(cost, best) == costs[fits].min()


def test_same_seed_same_plan() -> None:
    cost, use, capacity = type_d(8, 60, 3)
    start = start_plan(cost, use, capacity)
    runs = [
        tabu_search(
            cost, use, capacity, start, deadline=time.perf_counter() + FAR, settings=settings(300)
        )
        for _ in range(2)
    ]
    assert runs[0][0].tolist() == runs[1][0].tolist()
    assert runs[0][1].history == runs[1][1].history


def test_a_passed_deadline_stops_the_search_at_once() -> None:
    cost, use, capacity = type_d(10, 100, 5)
    start = start_plan(cost, use, capacity)
    best, stats = tabu_search(
        cost,
        use,
        capacity,
        start,
        deadline=time.perf_counter() - 1.0,
        settings=GapSearchSettings(max_iterations=None),
    )
    assert stats.iterations == 0 and best.tolist() == start.tolist()


def test_forbidden_pairs_are_never_entered() -> None:
    cost, use, capacity = type_d(4, 24, 8)
    start = start_plan(cost, use, capacity)
    allowed = np.ones_like(cost, dtype=bool)
    # Forbid, for every job, one agent it does not start on.
    forbidden_agent = (start + 1) % cost.shape[0]
    allowed[forbidden_agent, np.arange(cost.shape[1])] = False
    best, _ = tabu_search(
        cost,
        use,
        capacity,
        start,
        deadline=time.perf_counter() + FAR,
        settings=settings(300),
        allowed=allowed,
    )
    assert np.all(allowed[best, np.arange(cost.shape[1])])


def test_bad_input_is_refused() -> None:
    cost, use, capacity = type_d(3, 10, 1)
    start = start_plan(cost, use, capacity)
    deadline = time.perf_counter() + FAR
    over = np.zeros(10, dtype=np.int64)  # every job on agent 0: far over its capacity
    with pytest.raises(GapSearchError, match="exceeds a capacity"):
        tabu_search(cost, use, capacity, over, deadline=deadline)
    with pytest.raises(GapSearchError, match="one per job"):
        tabu_search(cost, use, capacity, start[:5], deadline=deadline)
    with pytest.raises(GapSearchError, match="does not exist"):
        tabu_search(cost, use, capacity, np.full(10, 7), deadline=deadline)
    with pytest.raises(GapSearchError, match="shapes differ"):
        tabu_search(cost, use[:2], capacity, start, deadline=deadline)
    with pytest.raises(GapSearchError, match="allowed has shape"):
        tabu_search(
            cost, use, capacity, start, deadline=deadline, allowed=np.ones((2, 2), dtype=bool)
        )


def _usable(problem: AssignmentProblem) -> np.ndarray:
    return np.ones(problem.n_options, dtype=bool)


def test_dense_gap_reads_a_pure_gap_back_as_matrices() -> None:
    cost, use, capacity = type_d(3, 7, 2)
    problem = from_matrix(cost, use, capacity)
    gap = dense_gap(problem, _usable(problem))
    assert gap is not None
    assert np.array_equal(gap.cost, cost) and np.array_equal(gap.use, use)
    assert np.array_equal(gap.capacity, capacity) and gap.allowed.all()
    # option k = j * m + i sends job j to agent i
    assert gap.option[2, 5] == 5 * 3 + 2


def test_dense_gap_marks_unusable_options_as_forbidden() -> None:
    cost, use, capacity = type_d(3, 7, 2)
    problem = from_matrix(cost, use, capacity)
    usable = _usable(problem)
    usable[0] = False  # job 0 on agent 0
    gap = dense_gap(problem, usable)
    assert gap is not None and not gap.allowed[0, 0] and gap.allowed.sum() == 20
    assert gap.use[0, 0] > capacity[0]


def test_dense_gap_declines_what_is_not_a_pure_gap() -> None:
    builder = AssignmentBuilder()
    node = builder.resource("node", 10)
    stock = builder.resource("stock", 3)
    job = builder.job("order")
    builder.option(job, 5.0, {node: 1, stock: 1})  # node capacity and inventory
    multi = builder.build()
    assert dense_gap(multi, _usable(multi)) is None
    twice = AssignmentBuilder()
    agent = twice.resource("agent", 10)
    job = twice.job("job")
    twice.option(job, 5.0, {agent: 1})
    twice.option(job, 4.0, {agent: 2})  # two options of one job on one agent
    doubled = twice.build()
    assert dense_gap(doubled, _usable(doubled)) is None
    cost, use, capacity = type_d(3, 7, 2)
    optional = from_matrix(cost, use, capacity)
    penalised = AssignmentProblem(
        **{
            **optional.__dict__,
            "uncovered_penalty": np.full(optional.n_jobs, 500.0),
        }
    )
    assert dense_gap(penalised, _usable(penalised)) is None


def test_the_engine_runs_the_phase_on_gap_problems_only_when_asked() -> None:
    cost, use, capacity = type_d(12, 48, 4)
    problem = from_matrix(cost, use, capacity)
    base = SolverSettings(time_limit_s=FAR, mip_max_options=0, lns_rounds=4, seed=1, ls_passes=5)
    off = solve_assignment(problem, base)
    assert "gap_search_iterations" not in off.stats
    on = solve_assignment(
        problem,
        SolverSettings(
            time_limit_s=FAR,
            mip_max_options=0,
            lns_rounds=4,
            seed=1,
            ls_passes=5,
            gap_search_share=0.5,
            gap_search=GapSearchSettings(max_iterations=300, seed=1),
        ),
    )
    assert on.stats["gap_search_iterations"] == 300
    assert on.feasible and not problem.violations(on.choice)
    assert on.stats["gap_search_objective"] < on.stats["ls_objective"]
    assert on.method == Method.GAP_SEARCH and off.method == Method.HEURISTIC
    assert on.objective <= on.stats["gap_search_objective"] + 1e-9
    assert on.lower_bound is not None and on.objective >= on.lower_bound - 1e-6


def test_penalty_rates_depend_on_the_size_unless_given() -> None:
    assert GapSearchSettings().alpha_rates(20, 100) == (1.05, 1.05)
    assert GapSearchSettings().alpha_rates(20, 200) == (1.1, 1.1)
    assert GapSearchSettings().alpha_rates(10, 100) == (1.1, 1.1)
    assert GapSearchSettings(alpha_up=1.2, alpha_down=1.3).alpha_rates(20, 100) == (1.2, 1.3)


@pytest.mark.parametrize("seed", range(3))
def test_forbidden_pairs_and_aspiration_on_a_long_run(seed: int) -> None:
    """A longer run with forbidden pairs (the path that masks them in every neighbourhood)
    still returns a plan within capacity, on allowed pairs, no worse than the start."""
    cost, use, capacity = type_d(8, 60, seed)
    allowed = np.random.default_rng(seed).random(cost.shape) < 0.7
    start = start_plan(cost, use, capacity)
    allowed[start, np.arange(60)] = True
    best, stats = tabu_search(
        cost,
        use,
        capacity,
        start,
        deadline=time.perf_counter() + FAR,
        settings=settings(3000, seed),
        allowed=allowed,
    )
    assert plan_fits(use, capacity, best)
    assert bool(np.all(allowed[best, np.arange(60)]))
    assert plan_cost(cost, best) <= plan_cost(cost, start)
    assert stats.iterations == 3000


def test_tabu_tenure_is_shorter_on_more_jobs_and_can_be_set() -> None:
    assert GapSearchSettings().tenure_range(100) == (2, 6)
    assert GapSearchSettings().tenure_range(200) == (1, 4)
    assert GapSearchSettings(tenure_min=3, tenure_max=9).tenure_range(200) == (3, 9)
    assert GapSearchSettings(tenure_min=0, tenure_max=0).tenure_range(50) == (1, 1)
    assert GapSearchSettings(tenure_max=1).tenure_range(50) == (2, 2)  # never below the shortest
