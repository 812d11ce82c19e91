"""The generic assignment engine: `solve_assignment(problem) -> AssignmentSolution`.

The problem (`tools.sourcing.problem`): jobs each take one of their options (or stay uncovered
at a penalty, when they have one); options cost money and consume resources; resources have
capacities. Order re-sourcing and the OR-Library GAP are both instances.

How it solves, always returning a plan within every capacity:

1. LP relaxation with HiGHS: its objective is the lower bound gaps are reported against. If
   even the LP cannot cover every must-cover job, the problem is over-constrained: the engine
   switches to covering as many jobs as possible (each job left over costs more than any plan)
   and names the jobs left over.
2. Rounding (each job takes the option the LP values most), repair (jobs leave overloaded
   resources at the least cost per unit freed), re-insertion of jobs taken off, and local
   search (shift moves, and swap/ejection moves that move one job out of another's way).
3. Small problems (at most `mip_max_options` usable options): the exact MIP, warm-started with
   that plan. Proven optimal: done.
3b. Pure GAP problems with at least `lns_min_groups` agents, when `gap_search_share` > 0
   (`execlayer eval gap`; off for order re-sourcing): the dedicated tabu search of
   `tools.sourcing.gap_search` (shift, swap and ejection-chain moves, strategic oscillation
   across the capacity boundary).
4. Large-neighbourhood search: a few dozen related jobs re-optimised exactly at a time by small
   HiGHS MIPs, until the round budget, the time budget or a proven optimum.
5. Small problems that are still open get the MIP again with the improved incumbent.

Work is bounded by rounds and branch-and-bound nodes, so a run that finishes inside its time
limit is reproducible; the time limit is a hard cap on top.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from tools.sourcing.gap_search import DenseGap, GapSearchSettings, dense_gap, tabu_search
from tools.sourcing.local_search import (
    SearchState,
    insert_uncovered,
    lns,
    local_search,
    repair,
    round_lp,
)
from tools.sourcing.mip import solve_model
from tools.sourcing.problem import (
    CAPACITY_EPS,
    UNCOVERED,
    AssignmentBuilder,
    AssignmentError,
    AssignmentProblem,
    AssignmentSolution,
    Method,
    from_matrix,
    gap_pct,
)

__all__ = [
    "AssignmentBuilder",
    "AssignmentError",
    "AssignmentProblem",
    "AssignmentSolution",
    "Method",
    "SolverSettings",
    "from_matrix",
    "gap_pct",
    "solve_assignment",
]


@dataclass(frozen=True)
class SolverSettings:
    """Knobs of `solve_assignment`. The defaults suit order re-sourcing batches."""

    time_limit_s: float = 5.0
    # Exact MIP when the problem has at most this many usable options (columns).
    mip_max_options: int = 4000
    # Share of the time budget the first MIP attempt may use on a small problem.
    mip_first_share: float = 0.25
    # Small problems with fewer groups (nodes, agents) than this skip the neighbourhood
    # search: the exact MIP uses the time better there (measured on OR-Library GAP).
    lns_min_groups: int = 12
    # Large-neighbourhood search: rounds (None = until the time limit), jobs freed per round,
    # branch-and-bound nodes per sub-MIP.
    lns_rounds: int | None = 60
    lns_free_jobs: int = 40
    lns_node_limit: int = 400
    # Clock cap per sub-MIP (None: nodes only, reproducible).
    lns_sub_time_s: float | None = None
    # Local-search passes (shift + swap) before and between the exact phases.
    ls_passes: int = 30
    seed: int = 0
    # Dedicated GAP phase (`tools.sourcing.gap_search`: tabu search with strategic oscillation)
    # for problems that are a pure GAP: the share of the time left after the first MIP attempt
    # it may use (0: off, the default for order re-sourcing). When on, the first MIP attempt
    # is limited to `mip_first_share` on every small problem.
    gap_search_share: float = 0.0
    gap_search_min_groups: int = 2
    gap_search: GapSearchSettings | None = None


def solve_assignment(
    problem: AssignmentProblem, settings: SolverSettings | None = None
) -> AssignmentSolution:
    """Solve `problem` (minimisation); see the module docstring for how."""
    cfg = settings or SolverSettings()
    t0 = time.perf_counter()
    deadline = t0 + max(0.0, cfg.time_limit_s)
    stats: dict[str, float] = {}

    usable_mask = _usable_options(problem)
    usable_ids = np.flatnonzero(usable_mask)
    opts_of = [[k for k in ks if usable_mask[k]] for ks in problem.options_of()]
    penalised = np.isfinite(problem.uncovered_penalty)
    reasons: dict[int, str] = {}
    for j in range(problem.n_jobs):
        if not opts_of[j] and not penalised[j]:
            had = bool(np.any(problem.option_job == j))
            reasons[j] = (
                "every option needs more than a resource's whole capacity"
                if had
                else "no option at all"
            )
    left_over_cost = _left_over_cost(problem)
    all_jobs = np.arange(problem.n_jobs, dtype=np.int64)

    # 1. LP relaxation (elastic when the problem cannot be covered in full).
    lp = solve_model(problem, all_jobs, usable_ids, problem.capacity, integer=False)
    partial = lp is None
    if lp is None:
        lp = solve_model(
            problem,
            all_jobs,
            usable_ids,
            problem.capacity,
            integer=False,
            elastic_cost=left_over_cost,
        )
    if lp is None:  # pragma: no cover - the elastic LP always has a solution
        raise AssignmentError("HiGHS could not solve the elastic LP relaxation")
    bound: float | None = None if partial else lp.objective
    stats["lp_seconds"] = time.perf_counter() - t0
    stats["lp_objective"] = lp.objective
    integral = _integral_costs(problem)

    # 2. Rounding, repair, local search.
    state = SearchState(problem, opts_of, left_over_cost)
    round_lp(state, usable_ids, lp.option_value, lp.uncovered_value)
    stats["rounded_fractional_jobs"] = float(
        np.sum((lp.option_value > 1e-6) & (lp.option_value < 1 - 1e-6))
    )
    repair(state)
    insert_uncovered(state, deadline)
    stats["repaired_objective"] = state.total()
    stats["ls_moves"] = float(local_search(state, deadline, cfg.ls_passes))
    stats["ls_objective"] = state.total()
    stats["ls_seconds"] = time.perf_counter() - t0

    method = Method.HEURISTIC
    optimal = _proven(state.total(), bound, integral)
    small = len(usable_ids) <= cfg.mip_max_options
    n_groups = len(np.unique(problem.option_group[usable_ids])) if len(usable_ids) else 0
    use_lns = not small or n_groups >= cfg.lns_min_groups
    # The dedicated GAP search: pure GAP problems with enough agents, when asked for.
    gap = (
        dense_gap(problem, usable_mask)
        if cfg.gap_search_share > 0 and n_groups >= cfg.gap_search_min_groups
        else None
    )

    # 3. Exact MIP on small problems.
    if small and not optimal and time.perf_counter() < deadline:
        share = cfg.mip_first_share if use_lns or gap is not None else 1.0
        budget = max(0.05, share * (deadline - time.perf_counter()))
        bound, optimal, used = _mip(problem, state, usable_ids, bound, left_over_cost, budget)
        if used:
            method = Method.MIP
        stats["mip1_seconds"] = time.perf_counter() - t0

    # 3b. Dedicated GAP search (tabu search with strategic oscillation).
    if gap is not None and not optimal and time.perf_counter() < deadline:
        gap_deadline = time.perf_counter() + cfg.gap_search_share * (deadline - time.perf_counter())
        if _gap_search(state, gap, gap_deadline, cfg, stats):
            method = Method.GAP_SEARCH
        stats["gap_search_seconds"] = time.perf_counter() - t0
        optimal = _proven(state.total(), bound, integral)

    # 4. Large-neighbourhood search.
    if use_lns and not optimal and time.perf_counter() < deadline:
        share = 0.75 if small else 1.0
        lns_deadline = time.perf_counter() + share * (deadline - time.perf_counter())
        target = None if bound is None else (math.ceil(bound - 1e-6) if integral else bound)
        lns_stats = lns(
            state,
            rounds=cfg.lns_rounds,
            deadline=lns_deadline,
            seed=cfg.seed,
            free_jobs=cfg.lns_free_jobs,
            node_limit=cfg.lns_node_limit,
            sub_time_s=cfg.lns_sub_time_s,
            stop_at=target,
        )
        stats["lns_rounds"] = float(lns_stats.rounds)
        stats["lns_improved"] = float(lns_stats.improved)
        stats["lns_seconds"] = time.perf_counter() - t0
        local_search(state, deadline, cfg.ls_passes)
        optimal = _proven(state.total(), bound, integral)

    # 5. The MIP again, from the improved incumbent.
    if small and not optimal and deadline - time.perf_counter() > 0.05:
        bound, optimal, used = _mip(
            problem, state, usable_ids, bound, left_over_cost, deadline - time.perf_counter()
        )
        if used:
            method = Method.MIP

    state.recount()
    choice = tuple(state.choice)
    left_over = tuple(j for j, k in enumerate(choice) if k == UNCOVERED and not penalised[j])
    for j in left_over:
        reasons.setdefault(
            j,
            "capacity or inventory exhausted: no plan covers every job"
            if partial
            else "not covered within the time limit",
        )
    seconds = time.perf_counter() - t0
    if bound is not None and integral:
        bound = float(math.ceil(bound - 1e-6))  # integer costs: the optimum is an integer
    final_bound = None if left_over else bound
    return AssignmentSolution(
        choice=choice,
        objective=problem.objective(choice),
        lower_bound=final_bound,
        seconds=seconds,
        method=method,
        optimal=optimal and not left_over,
        left_over=left_over,
        reasons={j: reasons[j] for j in left_over},
        time_limited=seconds >= cfg.time_limit_s,
        stats=stats,
    )


def _mip(
    problem: AssignmentProblem,
    state: SearchState,
    usable_ids: np.ndarray,
    bound: float | None,
    left_over_cost: float,
    time_limit_s: float,
) -> tuple[float | None, bool, bool]:
    """Run the full MIP from the state's plan; adopt a cheaper plan. Returns (bound, proven
    optimal, whether the MIP's plan was adopted or proven)."""
    all_jobs = np.arange(problem.n_jobs, dtype=np.int64)
    stranded = any(k == UNCOVERED and not state.penalised[j] for j, k in enumerate(state.choice))
    result = solve_model(
        problem,
        all_jobs,
        usable_ids,
        problem.capacity,
        integer=True,
        elastic_cost=left_over_cost if stranded else None,
        start=dict(enumerate(state.choice)),
        time_limit_s=time_limit_s,
    )
    if result is None:
        return bound, False, False
    before = state.total()
    after = sum(state.option_cost(j, result.choice[j]) for j in range(problem.n_jobs))
    adopted = False
    if after < before - 1e-9 * max(1.0, abs(before)):
        for j in range(problem.n_jobs):
            state.set(j, UNCOVERED)
        for j in range(problem.n_jobs):
            state.set(j, result.choice[j])
        adopted = True
    # With elastic columns the model is a relaxation of the problem: its dual bound is still a
    # valid lower bound, and an optimal solution that leaves no job out is optimal here too.
    if bound is not None:
        bound = max(bound, result.bound)
    covers_all = all(
        result.choice[j] != UNCOVERED or state.penalised[j] for j in range(problem.n_jobs)
    )
    proven = result.optimal and covers_all
    return bound, proven, adopted or proven


def _gap_search(
    state: SearchState,
    gap: DenseGap,
    deadline: float,
    cfg: SolverSettings,
    stats: dict[str, float],
) -> bool:
    """Run the dense GAP tabu search from the state's plan; adopt its plan when cheaper
    (returns whether it did)."""
    choice = np.asarray(state.choice, dtype=np.int64)
    if np.any(choice == UNCOVERED):
        return False  # a job is left over: the tabu search starts from complete plans only
    problem = state.problem
    agent_of = problem.use_resource[problem.use_start[choice]]
    settings = cfg.gap_search or GapSearchSettings(seed=cfg.seed)
    best, search = tabu_search(
        gap.cost,
        gap.use,
        gap.capacity,
        agent_of,
        deadline=deadline,
        settings=settings,
        allowed=gap.allowed,
    )
    stats["gap_search_iterations"] = float(search.iterations)
    stats["gap_search_objective"] = search.best_objective
    if search.best_objective < state.total() - 1e-9 * max(1.0, abs(state.total())):
        for j in range(len(state.choice)):
            state.set(j, UNCOVERED)
        for j, i in enumerate(best.tolist()):
            state.set(j, int(gap.option[i, j]))
        return True
    return False


def _usable_options(problem: AssignmentProblem) -> np.ndarray:
    """Options whose every use fits the resource's whole capacity."""
    too_big = problem.use_amount > problem.capacity[problem.use_resource] + CAPACITY_EPS
    owner = np.repeat(np.arange(problem.n_options), np.diff(problem.use_start))
    bad = np.bincount(owner[too_big], minlength=problem.n_options) > 0
    return ~bad


def _left_over_cost(problem: AssignmentProblem) -> float:
    """A cost per job left over that outweighs any difference in the rest of the plan."""
    finite_pen = problem.uncovered_penalty[np.isfinite(problem.uncovered_penalty)]
    spread = float(np.abs(problem.option_cost).max(initial=0.0)) + float(
        np.abs(finite_pen).max(initial=0.0)
    )
    return (spread + 1.0) * (problem.n_jobs + 1) * 2.0


def _integral_costs(problem: AssignmentProblem) -> bool:
    finite_pen = problem.uncovered_penalty[np.isfinite(problem.uncovered_penalty)]
    return bool(
        np.all(problem.option_cost == np.round(problem.option_cost))
        and np.all(finite_pen == np.round(finite_pen))
    )


def _proven(objective: float, bound: float | None, integral: bool) -> bool:
    if bound is None:
        return False
    target = math.ceil(bound - 1e-6) if integral else bound
    return objective <= target + 1e-9 * max(1.0, abs(objective))
