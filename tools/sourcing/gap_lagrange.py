"""A lower bound for the pure GAP from its Lagrangian relaxation with knapsack subproblems.

Relax "every job to exactly one agent" with a multiplier u_j per job. What is left splits by
agent into 0-1 knapsacks:

    L(u) = sum_j u_j + sum_i min { sum_j (c_ij - u_j) x_ij : sum_j a_ij x_ij <= b_i, x binary }

Every L(u) is a lower bound on the optimum (weak duality), and its best value is at least the
LP bound, often well above it: the knapsack keeps the capacity rows integral, which the LP does
not (Ross & Soland 1975; Fisher, Jaikumar & Van Wassenhove 1986). On OR-Library d20100 the LP
bound is 6142.5 and L reaches 6176.1, so with integer costs the optimum is at least 6177: the
best known lower bound of `bounds.txt`. The LP (and HiGHS's dual bound after 10 s, 6165) cannot
show that.

u is improved by subgradient steps (Held, Wolfe & Crowder 1974): g_j = 1 - (times job j is
taken), u += step x g with the Polyak step lambda x (upper - L) / |g|^2, lambda halved after
`STALL` steps without a better bound. Each knapsack is a dynamic programme over integer
capacities, compiled with numba (this module imports numba: import it only where the GAP
phase runs, as `tools.sourcing.gap_kernel`), so the bound applies only when every resource use
is an integer and the tables stay small (`MAX_CELLS`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from numba import njit

from tools.sourcing.problem import FloatArray

MAX_CELLS = 20_000_000  # agents x jobs x (capacity + 1) per evaluation of L(u)
STALL = 30  # steps without a better bound before lambda halves
LAMBDA_START = 2.0
LAMBDA_MIN = 1e-4
INTEGRAL_EPS = 1e-6


@njit(cache=True)
def knapsack_min(
    profit: np.ndarray, weight: np.ndarray, cap: int, keep: np.ndarray, take: np.ndarray
) -> float:  # pragma: no cover - compiled
    """min sum profit[k] x_k subject to sum weight[k] x_k <= cap, x binary. Fills `take` (0/1)
    with a minimising choice; `keep` is a (len(profit), >= cap + 1) work array. Only items
    with a negative profit that fit can be in a minimising choice, so only they enter the
    table."""
    n = profit.shape[0]
    items = np.empty(n, dtype=np.int64)
    count = 0
    for k in range(n):
        take[k] = 0
        if profit[k] < 0.0 and weight[k] <= cap:
            items[count] = k
            count += 1
    f = np.zeros(cap + 1)
    for r in range(count):
        k = items[r]
        p = profit[k]
        w = weight[k]
        for c in range(w):
            keep[r, c] = False
        for c in range(cap, w - 1, -1):
            v = f[c - w] + p
            if v < f[c]:
                f[c] = v
                keep[r, c] = True
            else:
                keep[r, c] = False
    c = cap
    for r in range(count - 1, -1, -1):
        if keep[r, c]:
            k = items[r]
            take[k] = 1
            c -= weight[k]
    return f[cap]


@njit(cache=True)
def relaxation(
    cost: np.ndarray,
    weight: np.ndarray,
    cap: np.ndarray,
    u: np.ndarray,
    keep: np.ndarray,
    x: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """L(u); x[i] receives agent i's knapsack choice."""
    m, n = cost.shape
    total = 0.0
    for j in range(n):
        total += u[j]
    profit = np.empty(n)
    for i in range(m):
        for j in range(n):
            profit[j] = cost[i, j] - u[j]
        total += knapsack_min(profit, weight[i], cap[i], keep, x[i])
    return total


@dataclass(frozen=True)
class LagrangianBound:
    """The best L(u) found (`value`; `bound` is its ceiling when costs are integers), the
    multipliers that gave it and the subgradient steps taken."""

    value: float
    bound: float
    multipliers: FloatArray
    iterations: int
    seconds: float


def applies(use: FloatArray, capacity: FloatArray) -> bool:
    """Integer uses, non-negative, and knapsack tables of at most MAX_CELLS cells."""
    a = np.asarray(use, dtype=np.float64)
    b = np.asarray(capacity, dtype=np.float64)
    if a.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    if np.any(a < 0) or np.any(b < 0) or not np.all(a == np.round(a)):
        return False
    cells = a.shape[0] * a.shape[1] * (float(b.max()) + 1.0)
    return cells <= MAX_CELLS


def lagrangian_bound(
    cost: FloatArray,
    use: FloatArray,
    capacity: FloatArray,
    *,
    upper: float,
    deadline: float,
    max_iterations: int = 5_000,
    integral: bool = True,
) -> LagrangianBound | None:
    """Subgradient ascent on L(u) from u_j = the second-cheapest cost of job j, until
    `max_iterations`, the deadline (time.perf_counter), lambda below LAMBDA_MIN, or a bound
    that reaches `upper` (the cost of a known plan: then that plan is optimal). The first L(u)
    is always evaluated, deadline or not. None when the bound does not apply (`applies`)."""
    if not applies(use, capacity):
        return None
    t0 = time.perf_counter()
    c = np.ascontiguousarray(cost, dtype=np.float64)
    w = np.ascontiguousarray(np.round(use), dtype=np.int64)
    b = np.floor(np.asarray(capacity, dtype=np.float64) + INTEGRAL_EPS).astype(np.int64)
    m, n = c.shape
    keep = np.zeros((n, int(b.max()) + 1), dtype=np.bool_)
    x = np.zeros((m, n), dtype=np.int64)
    u = np.sort(c, axis=0)[1] if m > 1 else c[0].copy()
    best, best_u = -math.inf, u.copy()
    lam, stall, steps = LAMBDA_START, 0, 0
    target = upper - INTEGRAL_EPS if integral else upper
    while steps < max(1, max_iterations) and (steps == 0 or time.perf_counter() < deadline):
        value = float(relaxation(c, w, b, u, keep, x))
        steps += 1
        if value > best + 1e-9:
            best, best_u, stall = value, u.copy(), 0
            if _rounded(best, integral) >= target:
                break  # the known plan is optimal
        else:
            stall += 1
            if stall >= STALL:
                lam, stall = lam / 2.0, 0
                if lam < LAMBDA_MIN:
                    break
        g = 1.0 - x.sum(axis=0)
        norm = float(g @ g)
        if norm == 0.0:
            break  # the relaxation's choice is a plan: L(u) is its cost, the optimum
        u = u + lam * max(upper - value, 1e-6) / norm * g
    return LagrangianBound(
        value=best,
        bound=_rounded(best, integral),
        multipliers=best_u,
        iterations=steps,
        seconds=time.perf_counter() - t0,
    )


def _rounded(value: float, integral: bool) -> float:
    return float(math.ceil(value - INTEGRAL_EPS)) if integral else value


def warm_up() -> float:
    """Compile (or load from the cache) the knapsack code; returns the seconds."""
    t0 = time.perf_counter()
    lagrangian_bound(
        np.array([[1.0, 2.0], [2.0, 1.0]]),
        np.ones((2, 2)),
        np.array([1.0, 1.0]),
        upper=2.0,
        deadline=math.inf,
        max_iterations=2,
    )
    return time.perf_counter() - t0
