"""The generic assignment engine: valid plans always, optimal on small problems, clear
"cannot cover" results when capacity runs out."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.sourcing.assignment import (
    AssignmentBuilder,
    AssignmentError,
    AssignmentProblem,
    SolverSettings,
    from_matrix,
    solve_assignment,
)
from tools.sourcing.problem import UNCOVERED

HEURISTIC = SolverSettings(time_limit_s=5.0, mip_max_options=0, lns_rounds=20)
EXACT = SolverSettings(time_limit_s=20.0)


def brute_force(problem: AssignmentProblem) -> tuple[int, float] | None:
    """(fewest must-cover jobs left out, cheapest cost with that many) over every plan."""
    opts = problem.options_of()
    choices = [
        [*o, UNCOVERED] for o in opts
    ]  # UNCOVERED for must-cover jobs = left out (priced by count)
    best: tuple[int, float] | None = None
    for combo in itertools.product(*choices):
        if problem.violations(list(combo)):
            continue
        left = sum(
            1
            for j, k in enumerate(combo)
            if k == UNCOVERED and not math.isfinite(problem.uncovered_penalty[j])
        )
        key = (left, problem.objective(list(combo)))
        if best is None or key < best:
            best = key
    return best


@st.composite
def small_problems(draw: st.DrawFn) -> AssignmentProblem:
    n_jobs = draw(st.integers(1, 6))
    n_res = draw(st.integers(1, 3))
    builder = AssignmentBuilder()
    for r in range(n_res):
        builder.resource(f"r{r}", draw(st.integers(0, 12)))
    for j in range(n_jobs):
        penalty = draw(st.one_of(st.none(), st.integers(5, 60)))
        job = builder.job(f"j{j}", uncovered_penalty=penalty)
        for _ in range(draw(st.integers(0, 3))):
            uses = {
                r: draw(st.integers(1, 6))
                for r in draw(st.sets(st.integers(0, n_res - 1), min_size=1, max_size=2))
            }
            builder.option(job, draw(st.integers(0, 40)), uses)
    return builder.build()


@given(problem=small_problems())
@settings(max_examples=60, deadline=None)
def test_exact_mip_is_optimal_and_never_exceeds_capacity(problem: AssignmentProblem) -> None:
    solution = solve_assignment(problem, EXACT)
    assert problem.violations(list(solution.choice)) == []
    best = brute_force(problem)
    assert best is not None  # leaving everything out is always a valid plan
    assert len(solution.left_over) == best[0]
    if not solution.left_over:
        assert solution.objective == pytest.approx(best[1])
        assert solution.optimal and solution.gap_pct == 0.0
    for j in solution.left_over:
        assert solution.reasons[j]


@given(problem=small_problems(), seed=st.integers(0, 3))
@settings(max_examples=60, deadline=None)
def test_heuristic_plans_never_exceed_capacity(problem: AssignmentProblem, seed: int) -> None:
    solution = solve_assignment(
        problem, SolverSettings(time_limit_s=5.0, mip_max_options=0, lns_rounds=10, seed=seed)
    )
    assert problem.violations(list(solution.choice)) == []
    best = brute_force(problem)
    assert best is not None
    assert len(solution.left_over) >= best[0]
    if solution.lower_bound is not None:
        assert solution.lower_bound <= best[1] + 1e-6 <= solution.objective + 1e-6


def test_gap_matrix_optimum() -> None:
    # 2 agents, 4 jobs; capacity forces job 3 (cheap on agent 0) onto agent 1.
    problem = from_matrix(
        cost=[[1, 1, 1, 1], [5, 5, 5, 2]],
        use=[[3, 3, 3, 3], [2, 2, 2, 2]],
        capacity=[9, 4],
    )
    for cfg in (EXACT, HEURISTIC):
        solution = solve_assignment(problem, cfg)
        assert solution.objective == 5.0 and solution.feasible
        assert problem.violations(list(solution.choice)) == []


def test_over_constrained_problem_names_the_jobs_left_over() -> None:
    builder = AssignmentBuilder()
    room = builder.resource("node", 5)
    for name in ("A", "B", "C"):
        job = builder.job(name)
        builder.option(job, 1.0, {room: 2})
    nothing = builder.job("D")  # no option at all
    too_big = builder.job("E")
    builder.option(too_big, 1.0, {room: 6})
    problem = builder.build()
    for cfg in (EXACT, HEURISTIC):
        solution = solve_assignment(problem, cfg)
        assert not solution.feasible and solution.lower_bound is None
        assert problem.violations(list(solution.choice)) == []
        left = {problem.job_names[j] for j in solution.left_over}
        assert len(left & {"A", "B", "C"}) == 1 and {"D", "E"} <= left
        assert solution.reasons[nothing] == "no option at all"
        assert "whole capacity" in solution.reasons[too_big]
        other = next(j for j in solution.left_over if problem.job_names[j] in "ABC")
        assert "capacity" in solution.reasons[other]


def test_penalised_jobs_stay_out_when_cheaper() -> None:
    builder = AssignmentBuilder()
    room = builder.resource("node", 10)
    cheap = builder.job("cheap-to-skip", uncovered_penalty=3.0)
    builder.option(cheap, 8.0, {room: 1})
    worth = builder.job("worth-it", uncovered_penalty=30.0)
    builder.option(worth, 8.0, {room: 1})
    solution = solve_assignment(builder.build(), EXACT)
    assert solution.choice[cheap] == UNCOVERED and solution.choice[worth] != UNCOVERED
    assert solution.objective == 11.0 and solution.feasible and solution.uncovered == (cheap,)


def test_same_problem_same_plan() -> None:
    rng = np.random.default_rng(4)
    problem = from_matrix(rng.integers(5, 50, (6, 40)), rng.integers(5, 25, (6, 40)), [110] * 6)
    runs = [solve_assignment(problem, HEURISTIC) for _ in range(2)]
    assert runs[0].choice == runs[1].choice and runs[0].objective == runs[1].objective


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": np.array([-1.0])}, "capacity must be >= 0"),
        ({"option_cost": np.array([math.nan])}, "cost must be finite"),
        ({"use_amount": np.array([-2.0])}, "amount must be finite and >= 0"),
        ({"option_job": np.array([3])}, "unknown job 3"),
    ],
)
def test_malformed_problems_are_rejected(kwargs: dict[str, np.ndarray], message: str) -> None:
    base = {
        "job_names": ("j",),
        "resource_names": ("r",),
        "capacity": np.array([5.0]),
        "option_job": np.array([0]),
        "option_cost": np.array([1.0]),
        "use_start": np.array([0, 1]),
        "use_resource": np.array([0]),
        "use_amount": np.array([1.0]),
        "uncovered_penalty": np.array([math.inf]),
    }
    base.update(kwargs)
    with pytest.raises(AssignmentError, match=message):
        AssignmentProblem(**base)  # type: ignore[arg-type]


def test_gap_shapes_must_agree() -> None:
    with pytest.raises(AssignmentError, match="shapes differ"):
        from_matrix([[1, 2]], [[1, 2, 3]], [5])
