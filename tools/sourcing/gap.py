"""OR-Library generalized assignment problem (GAP) files, solved by the batch optimizer's engine.

Format (J.E. Beasley's OR-Library; whitespace-separated integers, line breaks not
significant): `m n`, the cost matrix (m rows of n), the resource matrix (m rows of n), the m
agent capacities. Multi-instance files (`gap1.txt` ... `gapd.txt`) start with the number of
problems P and then hold P such problems. Every job goes to exactly one agent; an agent's jobs
may not use more than its capacity; we minimise the total cost.

GAP is order re-sourcing under node capacity in its purest form (agent = node, job = order),
so it is the benchmark of `tools.sourcing.assignment`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from tools.sourcing.assignment import (
    AssignmentProblem,
    SolverSettings,
    from_matrix,
    gap_pct,
    solve_assignment,
)
from tools.sourcing.gap_search import GapSearchSettings
from tools.sourcing.mip import solve_model

SOLVERS = ("execlayer", "highs-mip")
# Time split (measured on OR-Library types B-D): the first MIP attempt gets half the budget
# with fewer than 12 agents (where it proves most optima) and 10 % with more; the tabu search
# gets 80 % of what is left with fewer than 12 agents, GAP_SEARCH_SHARE_MANY_AGENTS with more;
# then (12+ agents) the large-neighbourhood search, and the MIP again from the best plan,
# share the rest.
MIP_FIRST_SHARE_FEW_AGENTS = 0.5
MIP_FIRST_SHARE_MANY_AGENTS = 0.1
MANY_AGENTS = 12
GAP_SEARCH_SHARE = 0.8
GAP_SEARCH_SHARE_MANY_AGENTS = 0.95
# The Lagrangian bound (`tools.sourcing.gap_lagrange`) runs after the search on this share of
# the budget, at most LAGRANGE_MAX_S; it stops sooner once converged (0.03-0.45 s on the
# 100-job and type A-C instances; 0.5 s gets the 200-job type D ones within 2 units of the
# bound a full second gives).
LAGRANGE_SHARE = 0.05
LAGRANGE_MAX_S = 1.0


class GapFormatError(ValueError):
    """A GAP file that does not follow the OR-Library format (the message says where)."""


@dataclass(frozen=True)
class GapInstance:
    name: str
    cost: np.ndarray  # (m, n)
    use: np.ndarray  # (m, n)
    capacity: np.ndarray  # (m,)

    @property
    def agents(self) -> int:
        return int(self.cost.shape[0])

    @property
    def jobs(self) -> int:
        return int(self.cost.shape[1])

    def problem(self) -> AssignmentProblem:
        return from_matrix(self.cost, self.use, self.capacity)

    def objective(self, agent_of_job: list[int]) -> float:
        return float(sum(self.cost[i, j] for j, i in enumerate(agent_of_job)))


def _numbers(text: str, source: str) -> list[float]:
    values: list[float] = []
    for pos, token in enumerate(text.split()):
        try:
            values.append(float(token))
        except ValueError:
            raise GapFormatError(f"{source}: token {pos + 1} ({token!r}) is not a number") from None
    return values


def _instance_at(values: list[float], pos: int, name: str, source: str) -> tuple[GapInstance, int]:
    if pos + 2 > len(values):
        raise GapFormatError(f"{source}: {name}: missing the 'm n' header")
    m, n = values[pos], values[pos + 1]
    if not (m.is_integer() and n.is_integer() and m >= 1 and n >= 1):
        raise GapFormatError(f"{source}: {name}: 'm n' must be positive integers, got {m} {n}")
    mi, ni = int(m), int(n)
    need = 2 + 2 * mi * ni + mi
    if pos + need > len(values):
        raise GapFormatError(
            f"{source}: {name}: {mi} agents x {ni} jobs need {need} numbers, "
            f"only {len(values) - pos} left"
        )
    body = np.asarray(values[pos + 2 : pos + need], dtype=np.float64)
    cost = body[: mi * ni].reshape(mi, ni)
    use = body[mi * ni : 2 * mi * ni].reshape(mi, ni)
    capacity = body[2 * mi * ni :]
    if np.any(use < 0) or np.any(capacity < 0):
        raise GapFormatError(f"{source}: {name}: resource use and capacities must be >= 0")
    return GapInstance(name, cost, use, capacity), pos + need


def parse_gap(text: str, name: str, source: str = "<text>") -> list[GapInstance]:
    """Instances in a GAP text: a single problem, or `P` followed by P problems."""
    values = _numbers(text, source)
    if len(values) < 2:
        raise GapFormatError(f"{source}: empty or truncated GAP file")
    m, n = values[0], values[1]
    if m.is_integer() and n.is_integer() and len(values) == 2 + 2 * int(m) * int(n) + int(m):
        return [_instance_at(values, 0, name, source)[0]]
    single = (
        f"{source}: as one {int(m)} x {int(n)} problem it needs "
        f"{2 + 2 * int(m) * int(n) + int(m)} numbers, found {len(values)}"
        if m.is_integer() and n.is_integer() and m >= 1 and n >= 1
        else f"{source}: not a single problem"
    )
    count = values[0]
    if not count.is_integer() or count < 1:
        raise GapFormatError(f"{single}; and no leading problem count")
    found: list[GapInstance] = []
    pos = 1
    try:
        for p in range(int(count)):
            instance, pos = _instance_at(values, pos, f"{name}-{p + 1}", source)
            found.append(instance)
    except GapFormatError as exc:
        raise GapFormatError(f"{single}; as {int(count)} problems: {exc}") from None
    if pos != len(values):
        raise GapFormatError(
            f"{source}: {len(values) - pos} numbers left after the {int(count)} problems"
        )
    return found


def read_gap_file(path: Path) -> list[GapInstance]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GapFormatError(f"{path}: {exc}") from None
    return parse_gap(text, path.stem, str(path))


def load_bounds(path: Path) -> dict[str, tuple[float, float]]:
    """`bounds.txt`: `<name>_<Min|Max> lower upper` -> {"<name>_Min": (lower, upper)}."""
    bounds: dict[str, tuple[float, float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3:
            try:
                bounds[parts[0]] = (float(parts[1]), float(parts[2]))
            except ValueError:
                continue
    return bounds


def find_bounds(gap_file: Path) -> dict[str, tuple[float, float]]:
    """The `bounds.txt` next to a GAP file or one folder up, if there is one."""
    for folder in (gap_file.parent, gap_file.parent.parent):
        candidate = folder / "bounds.txt"
        if candidate.is_file():
            return load_bounds(candidate)
    return {}


class GapResult(BaseModel):
    """One solved instance: what `execlayer eval gap --json` prints per line."""

    instance: str
    objective: float | None
    seconds: float
    feasible: bool
    lower_bound: float | None
    solver: str
    method: str
    optimal: bool
    agents: int
    jobs: int
    gap_to_lower_bound_pct: float | None = None
    best_known: float | None = None  # best known solution value (bounds.txt upper, _Min)
    best_known_lower: float | None = None  # best known lower bound (bounds.txt lower)
    gap_to_best_known_pct: float | None = None  # objective above the best known lower bound
    # Seconds to compile (or load from numba's cache) the GAP search kernel, spent before the
    # instance's clock starts and not counted in `seconds`; None when it was not needed.
    compile_seconds: float | None = None
    # Where `lower_bound` comes from: "lp" (the LP relaxation), "mip" (HiGHS's dual bound) or
    # "lagrangian" (the knapsack Lagrangian relaxation, `tools.sourcing.gap_lagrange`).
    lower_bound_source: str | None = None


def solve_gap(
    instance: GapInstance,
    *,
    time_limit_s: float = 10.0,
    solver: str = "execlayer",
    bounds: dict[str, tuple[float, float]] | None = None,
    seed: int = 0,
) -> GapResult:
    """Solve one instance as minimisation with our engine (`execlayer`) or plain HiGHS MIP."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    problem = instance.problem()
    compile_seconds: float | None = None
    if solver == "execlayer":
        search = GapSearchSettings(max_iterations=None, seed=seed)
        if search.compiled:
            from tools.sourcing.gap_kernel import warm_up  # imports numba: only here

            compile_seconds = round(warm_up(), 3)
        lagrange = search.compiled and _lagrange_applies(instance)
        if lagrange:
            from tools.sourcing.gap_lagrange import warm_up as warm_up_bound

            compile_seconds = round((compile_seconds or 0.0) + warm_up_bound(), 3)
        t0 = time.perf_counter()
        reserve = min(LAGRANGE_MAX_S, LAGRANGE_SHARE * time_limit_s) if lagrange else 0.0
        solution = solve_assignment(
            problem,
            SolverSettings(
                time_limit_s=time_limit_s - reserve,
                mip_max_options=instance.agents * instance.jobs,
                lns_rounds=None,
                seed=seed,
                mip_first_share=(
                    MIP_FIRST_SHARE_MANY_AGENTS
                    if instance.agents >= MANY_AGENTS
                    else MIP_FIRST_SHARE_FEW_AGENTS
                ),
                gap_search_share=(
                    GAP_SEARCH_SHARE_MANY_AGENTS
                    if instance.agents >= MANY_AGENTS
                    else GAP_SEARCH_SHARE
                ),
                gap_search=search,
            ),
        )
        objective: float | None = solution.objective if solution.feasible else None
        lower = solution.lower_bound
        feasible, method, optimal = solution.feasible, solution.method, solution.optimal
        # The MIP's dual bound when it ran (never below the LP's), else the LP's.
        source = "mip" if "mip1_seconds" in solution.stats else "lp"
        if lagrange and objective is not None and not optimal:
            from tools.sourcing.gap_lagrange import lagrangian_bound

            found = lagrangian_bound(
                instance.cost,
                instance.use,
                instance.capacity,
                upper=objective,
                deadline=t0 + time_limit_s,
                integral=bool(np.all(instance.cost == np.round(instance.cost))),
            )
            if found is not None and (lower is None or found.bound > lower):
                lower, source = found.bound, "lagrangian"
                optimal = objective <= lower + 1e-9
        seconds = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        jobs = np.arange(problem.n_jobs, dtype=np.int64)
        options = np.arange(problem.n_options, dtype=np.int64)
        result = solve_model(
            problem, jobs, options, problem.capacity, integer=True, time_limit_s=time_limit_s
        )
        seconds = time.perf_counter() - t0
        objective = result.objective if result is not None else None
        lower = result.bound if result is not None else None
        feasible = result is not None
        method, optimal = "highs-mip", bool(result is not None and result.optimal)
        source = "mip"
    known = (bounds or {}).get(f"{instance.name}_Min")
    return GapResult(
        instance=instance.name,
        objective=objective,
        seconds=round(seconds, 3),
        feasible=feasible,
        lower_bound=lower,
        solver=solver,
        method=method,
        optimal=optimal,
        agents=instance.agents,
        jobs=instance.jobs,
        gap_to_lower_bound_pct=_round(gap_pct(objective, lower)) if objective is not None else None,
        best_known=known[1] if known else None,
        best_known_lower=known[0] if known else None,
        gap_to_best_known_pct=(
            _round(gap_pct(objective, known[0])) if known and objective is not None else None
        ),
        compile_seconds=compile_seconds,
        lower_bound_source=source if lower is not None else None,
    )


def _lagrange_applies(instance: GapInstance) -> bool:
    from tools.sourcing.gap_lagrange import applies  # imports numba: only here

    return applies(instance.use, instance.capacity)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
