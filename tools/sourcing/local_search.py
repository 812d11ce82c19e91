"""The heuristic half of the assignment engine: rounding an LP solution, repairing overloaded
resources, local search (shift and swap/ejection moves) and large-neighbourhood search with
small exact HiGHS MIPs.

`SearchState` holds one plan in plain Python lists (fast for single-job moves): the option
each job takes (or UNCOVERED), the load on every resource, and which jobs use each resource.
Every move keeps every resource within its capacity; the plan is always valid. Must-cover jobs
that are not (yet) covered cost `left_over_cost` each, large enough that covering one more job
always beats any saving elsewhere.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

import numpy as np

from tools.sourcing.mip import solve_model
from tools.sourcing.problem import (
    CAPACITY_EPS,
    UNCOVERED,
    AssignmentProblem,
    FloatArray,
)

IMPROVEMENT_EPS = 1e-9
# Swap/ejection search: jobs examined per blocking resource (keeps a pass bounded on big nodes).
EJECTION_CANDIDATES = 48


class SearchState:
    """One plan of an assignment problem, with incremental loads."""

    def __init__(self, problem: AssignmentProblem, usable: list[list[int]], left_over_cost: float):
        self.problem = problem
        self.opts = usable  # per job, usable options cheapest first
        self.cost: list[float] = problem.option_cost.tolist()
        starts = problem.use_start.tolist()
        res = problem.use_resource.tolist()
        amt = problem.use_amount.tolist()
        self.uses: list[tuple[tuple[int, float], ...]] = [
            tuple(zip(res[starts[k] : starts[k + 1]], amt[starts[k] : starts[k + 1]], strict=True))
            for k in range(problem.n_options)
        ]
        self.cap: list[float] = (problem.capacity + CAPACITY_EPS).tolist()
        self.load: list[float] = [0.0] * problem.n_resources
        self.pen: list[float] = [
            p if math.isfinite(p) else left_over_cost for p in problem.uncovered_penalty.tolist()
        ]
        self.penalised: list[bool] = np.isfinite(problem.uncovered_penalty).tolist()
        self.choice: list[int] = [UNCOVERED] * problem.n_jobs
        self._total = sum(self.pen)  # running total of job_cost over all jobs
        self.jobs_on: list[set[int]] = [set() for _ in range(problem.n_resources)]
        self.group: list[int] = problem.option_group.tolist()
        self.jobs_in: dict[int, set[int]] = {}

    # -- bookkeeping ---------------------------------------------------------------------
    def job_cost(self, j: int) -> float:
        k = self.choice[j]
        return self.cost[k] if k != UNCOVERED else self.pen[j]

    def option_cost(self, j: int, k: int) -> float:
        return self.cost[k] if k != UNCOVERED else self.pen[j]

    def total(self) -> float:
        """Cost of the plan (running sum; `recount` re-adds it from scratch)."""
        return self._total

    def recount(self) -> float:
        self._total = math.fsum(self.job_cost(j) for j in range(len(self.choice)))
        return self._total

    def set(self, j: int, k: int) -> None:
        """Move job j to option k (or UNCOVERED) without checking capacity."""
        old = self.choice[j]
        self._total += (self.cost[k] if k != UNCOVERED else self.pen[j]) - (
            self.cost[old] if old != UNCOVERED else self.pen[j]
        )
        if old != UNCOVERED:
            for r, a in self.uses[old]:
                self.load[r] -= a
                self.jobs_on[r].discard(j)
            self.jobs_in[self.group[old]].discard(j)
        if k != UNCOVERED:
            for r, a in self.uses[k]:
                self.load[r] += a
                self.jobs_on[r].add(j)
            self.jobs_in.setdefault(self.group[k], set()).add(j)
        self.choice[j] = k

    def fits(self, j: int, k: int) -> bool:
        """Would job j fit on option k, counting what its current option frees?"""
        if k == UNCOVERED:
            return True
        old = self.choice[j]
        own = dict(self.uses[old]) if old != UNCOVERED else {}
        load, cap = self.load, self.cap
        return all(load[r] - own.get(r, 0.0) + a <= cap[r] for r, a in self.uses[k])

    def blocking(self, j: int, k: int) -> list[int]:
        """Resources that stop job j from moving to option k."""
        old = self.choice[j]
        own = dict(self.uses[old]) if old != UNCOVERED else {}
        return [r for r, a in self.uses[k] if self.load[r] - own.get(r, 0.0) + a > self.cap[r]]

    def overloaded(self) -> list[int]:
        return [r for r, (ld, c) in enumerate(zip(self.load, self.cap, strict=True)) if ld > c]

    def alternatives(self, j: int) -> list[int]:
        """Options job j may take: its usable options, plus UNCOVERED if it has a penalty."""
        return [*self.opts[j], UNCOVERED] if self.penalised[j] else list(self.opts[j])


# -- construction ------------------------------------------------------------------------
def round_lp(
    state: SearchState,
    option_ids: np.ndarray,
    option_value: FloatArray,
    uncovered_value: FloatArray,
) -> None:
    """Give each job the column the LP values most (ties: cheaper, then lower index)."""
    problem = state.problem
    jobs = problem.option_job[option_ids]
    cost = problem.option_cost[option_ids]
    order = np.lexsort((option_ids, cost, -np.round(option_value, 9), jobs))
    first = np.ones(len(order), dtype=bool)
    first[1:] = jobs[order][1:] != jobs[order][:-1]
    best = order[first]
    for pos in best.tolist():
        j = int(jobs[pos])
        if state.penalised[j] and uncovered_value[j] > option_value[pos] + 1e-9:
            continue
        state.set(j, int(option_ids[pos]))


def repair(state: SearchState) -> None:
    """Move jobs off overloaded resources at the least cost per unit freed; jobs that cannot
    move anywhere are taken off (uncovered) and re-inserted by `insert_uncovered`."""
    for r in state.overloaded():
        while state.load[r] > state.cap[r]:
            moves: list[tuple[float, int, int]] = []
            for j in sorted(state.jobs_on[r]):
                cur = state.choice[j]
                own = dict(state.uses[cur]).get(r, 0.0)
                for k in state.alternatives(j):
                    if k == cur:
                        continue
                    freed = own - (dict(state.uses[k]).get(r, 0.0) if k != UNCOVERED else 0.0)
                    if freed <= 0 or not _fits_without(state, j, k, r):
                        continue
                    delta = state.option_cost(j, k) - state.job_cost(j)
                    moves.append((delta / freed, j, k))
                    break  # cheapest fitting alternative of this job
            if not moves:
                # Nothing moves elsewhere: take the job using most of r off the plan.
                j = max(
                    sorted(state.jobs_on[r]), key=lambda x: dict(state.uses[state.choice[x]])[r]
                )
                state.set(j, UNCOVERED)
                continue
            moves.sort()
            for _, j, k in moves:
                if state.load[r] <= state.cap[r]:
                    break
                if state.choice[j] != UNCOVERED and _fits_without(state, j, k, r):
                    state.set(j, k)


def _fits_without(state: SearchState, j: int, k: int, ignore: int) -> bool:
    """Fits, ignoring resource `ignore` (already overloaded and being relieved)."""
    if k == UNCOVERED:
        return True
    old = state.choice[j]
    own = dict(state.uses[old]) if old != UNCOVERED else {}
    return all(
        r == ignore or state.load[r] - own.get(r, 0.0) + a <= state.cap[r] for r, a in state.uses[k]
    )


def insert_uncovered(state: SearchState, deadline: float) -> None:
    """Cover uncovered jobs where cheaper: directly, or by first moving one job out of the way."""
    for j in range(len(state.choice)):
        if state.choice[j] != UNCOVERED or time.perf_counter() > deadline:
            continue
        for k in state.opts[j]:
            if state.cost[k] >= state.pen[j]:
                break
            if state.fits(j, k):
                state.set(j, k)
                break
            if _eject_for(state, j, k, state.pen[j] - state.cost[k]):
                break


def _eject_for(state: SearchState, j: int, k: int, budget: float) -> bool:
    """Make room for job j on option k by moving one other job elsewhere, if the extra cost
    of that move is below `budget`. Applies the pair of moves and returns True on success."""
    blocked = state.blocking(j, k)
    if len(blocked) != 1:
        return False
    r = blocked[0]
    cur_j = state.choice[j]
    best: tuple[float, int, int] | None = None
    for other in sorted(state.jobs_on[r])[:EJECTION_CANDIDATES]:
        if other == j:
            continue
        cur_o = state.choice[other]
        base = state.job_cost(other)
        state.set(other, UNCOVERED)
        if state.fits(j, k):
            state.set(j, k)
            for k2 in state.alternatives(other):
                extra = state.option_cost(other, k2) - base
                if extra >= budget or (best is not None and extra >= best[0]):
                    break
                if k2 != cur_o and state.fits(other, k2):
                    best = (extra, other, k2)
                    break
            state.set(j, cur_j)
        state.set(other, cur_o)
    if best is None:
        return False
    _, other, k2 = best
    state.set(other, UNCOVERED)
    state.set(j, k)
    state.set(other, k2)
    return True


# -- local search --------------------------------------------------------------------------
def shift_pass(state: SearchState, deadline: float) -> int:
    """Move each job to its cheapest option that fits, if cheaper. Returns moves made."""
    moved = 0
    for j in range(len(state.choice)):
        if (j & 255) == 0 and time.perf_counter() > deadline:
            break
        current = state.job_cost(j)
        for k in state.alternatives(j):
            if state.option_cost(j, k) >= current - IMPROVEMENT_EPS:
                if k != UNCOVERED:
                    break
                continue
            if k != state.choice[j] and state.fits(j, k):
                state.set(j, k)
                moved += 1
                break
    return moved


def swap_pass(state: SearchState, deadline: float) -> int:
    """Improving moves blocked by one resource, unblocked by moving another job off it."""
    moved = 0
    for j in range(len(state.choice)):
        if time.perf_counter() > deadline:
            break
        current = state.job_cost(j)
        for k in state.alternatives(j):
            saving = current - state.option_cost(j, k)
            if saving <= IMPROVEMENT_EPS:
                if k != UNCOVERED:
                    break
                continue
            if k == state.choice[j]:
                continue
            if state.fits(j, k):
                state.set(j, k)
                moved += 1
                break
            if _eject_for(state, j, k, saving - IMPROVEMENT_EPS):
                moved += 1
                break
    return moved


def local_search(state: SearchState, deadline: float, max_passes: int = 50) -> int:
    moves = 0
    for _ in range(max_passes):
        made = shift_pass(state, deadline)
        made += swap_pass(state, deadline)
        moves += made
        if made == 0 or time.perf_counter() > deadline:
            break
    return moves


# -- large-neighbourhood search ---------------------------------------------------------
@dataclass
class LnsStats:
    rounds: int = 0
    improved: int = 0
    sub_optimal: int = 0
    group_span: int = 2
    history: list[float] = field(default_factory=list)


def lns(
    state: SearchState,
    *,
    rounds: int | None,
    deadline: float,
    seed: int,
    free_jobs: int = 40,
    node_limit: int = 400,
    sub_time_s: float | None = None,
    stop_at: float | None = None,
) -> LnsStats:
    """Re-optimise a few related jobs at a time exactly (a small HiGHS MIP warm-started with
    their current options against the capacity the other jobs leave) and keep the result when
    it is cheaper.

    Neighbourhoods alternate between
    - groups: every job sent to one of a few groups (nodes, GAP agents), free to move among
      those groups only; a seed group is taken in turn, partners among the groups its jobs
      could go to. Two groups at first; one more after a full turn without improvement;
    - jobs: `free_jobs`/3 jobs chosen at random, each free to take any of its options.
    Stops after `rounds` (None: at the deadline) or once the plan costs `stop_at` or less.
    """
    problem = state.problem
    rng = random.Random(seed)
    movable = [j for j in range(problem.n_jobs) if len(state.alternatives(j)) > 1]
    stats = LnsStats()
    if len(movable) < 2:
        return stats
    cap = np.asarray(state.cap) - CAPACITY_EPS
    groups_used = sorted({state.group[state.choice[j]] for j in movable if state.choice[j] >= 0})
    rng.shuffle(groups_used)
    max_span = max(2, min(6, len(set(state.group))))
    span, turn_pos, improved_this_turn = 2, 0, False
    r = 0
    while rounds is None or r < rounds:
        if time.perf_counter() > deadline:
            break
        if stop_at is not None and state.total() <= stop_at + IMPROVEMENT_EPS:
            break
        r += 1
        by_groups = bool(groups_used) and r % 4 != 0
        if by_groups:
            seed_group = groups_used[turn_pos % len(groups_used)]
            turn_pos += 1
            if turn_pos % len(groups_used) == 0:
                if not improved_this_turn:
                    span = span + 1 if span < max_span else 2
                improved_this_turn = False
            allowed = _related_groups(state, rng, seed_group, span)
            free = sorted(
                j
                for g in allowed
                for j in state.jobs_in.get(g, ())
                if len(state.alternatives(j)) > 1
            )
            if len(free) > free_jobs:
                free = sorted(rng.sample(free, free_jobs))
        else:
            allowed = None
            free = sorted(rng.sample(movable, min(len(movable), max(2, free_jobs // 3))))
        if len(free) < 2:
            continue
        result = _reoptimise(state, free, allowed, cap, node_limit, sub_time_s, deadline)
        stats.rounds += 1
        if result is None:
            continue
        choice, optimal = result
        stats.sub_optimal += optimal
        before = sum(state.job_cost(j) for j in free)
        after = sum(state.option_cost(j, choice[j]) for j in free)
        if after < before - IMPROVEMENT_EPS * max(1.0, abs(before)):
            for j in free:
                state.set(j, UNCOVERED)
            for j in free:
                state.set(j, choice[j])
            stats.improved += 1
            improved_this_turn = True
            stats.history.append(state.total())
    stats.group_span = span
    return stats


def _related_groups(state: SearchState, rng: random.Random, seed_group: int, span: int) -> set[int]:
    """`seed_group` plus `span - 1` groups its jobs could move to (drawn by how often)."""
    weights: dict[int, int] = {}
    for j in sorted(state.jobs_in.get(seed_group, ())):
        for k in state.opts[j]:
            g = state.group[k]
            if g != seed_group:
                weights[g] = weights.get(g, 0) + 1
    chosen = {seed_group}
    pool = sorted(weights)
    while pool and len(chosen) < span:
        g = rng.choices(pool, weights=[weights[x] for x in pool])[0]
        chosen.add(g)
        pool.remove(g)
    return chosen


def _reoptimise(
    state: SearchState,
    free: list[int],
    allowed_groups: set[int] | None,
    cap: FloatArray,
    node_limit: int,
    sub_time_s: float | None,
    deadline: float,
) -> tuple[dict[int, int], bool] | None:
    """Best options for the `free` jobs with every other job fixed: (choice, proven optimal)."""
    load = np.asarray(state.load)
    freed = np.zeros_like(load)
    for j in free:
        k = state.choice[j]
        if k != UNCOVERED:
            for res, a in state.uses[k]:
                freed[res] += a
    residual = np.maximum(0.0, cap - (load - freed))
    cand = [
        k
        for j in free
        for k in state.opts[j]
        if (k == state.choice[j] or allowed_groups is None or state.group[k] in allowed_groups)
        and all(a <= residual[res] + CAPACITY_EPS for res, a in state.uses[k])
    ]
    stranded = [j for j in free if state.choice[j] == UNCOVERED and not state.penalised[j]]
    remaining = deadline - time.perf_counter()
    if remaining <= 0.005:
        return None
    result = solve_model(
        state.problem,
        np.asarray(free, dtype=np.int64),
        np.asarray(cand, dtype=np.int64),
        residual,
        integer=True,
        elastic_cost=state.pen[stranded[0]] if stranded else None,
        start={j: state.choice[j] for j in free},
        time_limit_s=remaining if sub_time_s is None else min(remaining, sub_time_s),
        node_limit=node_limit,
    )
    if result is None:
        return None
    return result.choice, result.optimal
