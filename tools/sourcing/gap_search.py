"""A dedicated improvement phase for the pure generalized assignment problem (GAP): tabu search
with strategic oscillation and ejection chains.

The generic engine (`tools.sourcing.assignment`) handles multi-resource options and penalised
jobs, which costs it speed on the pure GAP (every job to exactly one agent, one capacity per
agent). This phase works on the dense matrices instead and scores whole neighbourhoods every
iteration, in a loop compiled with numba (`tools.sourcing.gap_kernel`, imported only when the
search runs) or, with `compiled=False`, with numpy:

- shift: one job to another agent (m x n moves);
- swap: two jobs on different agents trade places (n x n moves);
- ejection chains: job q takes the place of job p, and p leaves for another agent, directly
  or by taking the place of a further job o that leaves in turn (`chain_depth`; n x n moves,
  each with its best continuation).

As in Díaz & Fernández (2001) and Yagiura, Ibaraki & Glover (2004), the search may leave the
feasible region: a move is judged by its cost change plus `alpha` x the change in total
overload (the units by which agents exceed their capacities). `alpha` adapts every iteration,
up while the current plan is overloaded and down while it fits, so the search oscillates along
the capacity boundary where the good GAP plans lie. A job that leaves an agent may not return
to it for a few iterations (tabu tenure, drawn from the seeded generator) unless that gives the
best plan within capacity seen so far (aspiration). After a long stretch without a better plan
the search restarts from the best plan with the penalty reset.

Swap and chain scores are built from one n x n matrix per iteration (W[p, q]: cost change plus
penalised overload change when q takes p's place; a swap scores W[p, q] + W[q, p], a chain
starts with W[p, q]); aspiration is checked on the few tabu pairs only.

Only plans within every capacity are returned, and never one costlier than the start (the
start itself when nothing better is found). Work is bounded by `max_iterations`, so a run that
ends before its deadline is reproducible for a given seed; the deadline is a hard cap on top.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tools.sourcing.problem import CAPACITY_EPS, AssignmentProblem, FloatArray, IntArray

BoolArray = NDArray[np.bool_]


SLOW_ALPHA_JOBS_PER_AGENT = 5
SHORT_TENURE_JOBS = 100  # more jobs than this: the shorter tabu tenure (`tenure_range`)


class GapSearchError(ValueError):
    """Inputs of the GAP search that do not fit together (the message says which)."""


@dataclass(frozen=True)
class GapSearchSettings:
    """Knobs of `tabu_search`. Defaults measured on OR-Library GAP type D (20 agents)."""

    max_iterations: int | None = 200_000  # None: until the deadline
    # Tabu tenure: an integer uniform in [tenure_min, tenure_max] iterations. None: 2-6 with at
    # most SHORT_TENURE_JOBS jobs, 1-4 with more (`tenure_range`).
    tenure_min: int | None = None
    tenure_max: int | None = None
    # Penalty per unit of overload: starts at `alpha_start` x (mean |cost| / mean use); multiplied
    # by `alpha_up` per overloaded iteration and divided by `alpha_down` per feasible one.
    # None: 1.05 with at most SLOW_ALPHA_JOBS_PER_AGENT jobs per agent, 1.1 with more
    # (measured from the same start, 8 s: d20100, 5 jobs per agent, seeds 0-6 median 6221 with
    # 1.05 against 6233 with 1.1; d20200, 10 per agent, seeds 0-3 median 12300 with 1.1 against
    # 12315 with 1.05; d10100, 10 per agent, 10 s seeds 0-2 no better with 1.05).
    alpha_start: float = 1.0
    alpha_up: float | None = None
    alpha_down: float | None = None
    alpha_min: float = 1e-3  # bounds of alpha, as multiples of its start
    alpha_max: float = 1e3
    # Restart from the best plan after this many iterations without a better one. Measured
    # through `solve_gap`, 10 s, seeds 0-15, 500 against 2,000: d20200 better on 12 of 16
    # (median 12292.5 against 12299), d20100 better on 9, worse on 6 (median 6214 against 6219).
    restart_after: int = 500
    seed: int = 0
    # Ejection chains: q takes p's place and p leaves, directly or into the place of up to
    # `chain_depth - 1` further jobs, the last of which leaves for an agent directly.
    chains: bool = True
    chain_depth: int = 2
    # The inner loop compiled with numba (`tools.sourcing.gap_kernel`, same moves and rules,
    # many times the iterations per second); False: the numpy loop below.
    compiled: bool = True

    def tenure_range(self, jobs: int) -> tuple[int, int]:
        """(shortest, longest) tabu tenure for a problem of `jobs` jobs. Measured with the
        restart after 500, 10 s, seeds 0-15 (d20x) or 0-7: on 200 jobs 1-4 against the 3-8 used
        before (2-6 scaled by sqrt(jobs) / 10) gave d20200 median 12283.5 against 12292 (within
        0.5 % of the lower bound on 13 of 16 seeds against 6), d05200 12749.5 against 12751,
        d10200 12447 against 12448, c20200 equal (4-13 gave 12307 on d20200); on 100 jobs 1-4
        was worse than 2-6 (d20100 worse on 12 of 16, d10100 on 5 of 8; 1-3: 6223.5)."""
        lo, hi = (2, 6) if jobs <= SHORT_TENURE_JOBS else (1, 4)
        lo = lo if self.tenure_min is None else self.tenure_min
        hi = hi if self.tenure_max is None else self.tenure_max
        return max(1, lo), max(1, lo, hi)

    def alpha_rates(self, agents: int, jobs: int) -> tuple[float, float]:
        """(alpha_up, alpha_down) for a problem of `agents` x `jobs`."""
        default = 1.05 if jobs <= SLOW_ALPHA_JOBS_PER_AGENT * agents else 1.1
        return (
            default if self.alpha_up is None else self.alpha_up,
            default if self.alpha_down is None else self.alpha_down,
        )


@dataclass
class GapSearchStats:
    iterations: int = 0
    improvements: int = 0
    restarts: int = 0
    feasible_iterations: int = 0
    seconds: float = 0.0
    start_objective: float = 0.0
    best_objective: float = 0.0
    history: list[tuple[int, float]] = field(default_factory=list)  # (iteration, best)


def plan_cost(cost: FloatArray, agent_of: IntArray) -> float:
    return float(cost[agent_of, np.arange(cost.shape[1])].sum())


def plan_loads(use: FloatArray, agent_of: IntArray) -> FloatArray:
    m, n = use.shape
    loads: FloatArray = np.bincount(
        agent_of, weights=use[agent_of, np.arange(n)], minlength=m
    ).astype(np.float64)
    return loads


def plan_fits(use: FloatArray, capacity: FloatArray, agent_of: IntArray) -> bool:
    return bool(np.all(plan_loads(use, agent_of) <= capacity + CAPACITY_EPS))


def tabu_search(
    cost: FloatArray,
    use: FloatArray,
    capacity: FloatArray,
    start: IntArray,
    *,
    deadline: float,
    settings: GapSearchSettings | None = None,
    allowed: BoolArray | None = None,
) -> tuple[IntArray, GapSearchStats]:
    """Improve `start` (agent of each job, within capacity). Returns (best plan, stats)."""
    cfg = settings or GapSearchSettings()
    t0 = time.perf_counter()
    c = np.asarray(cost, dtype=np.float64)
    a = np.asarray(use, dtype=np.float64)
    b = np.asarray(capacity, dtype=np.float64) + CAPACITY_EPS
    x = np.asarray(start, dtype=np.int64).copy()
    m, n = c.shape
    _check(c, a, b, x)
    if not plan_fits(a, capacity, x):
        raise GapSearchError("the start plan exceeds a capacity")
    ok = np.ones((m, n), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
    if ok.shape != (m, n):
        raise GapSearchError(f"allowed has shape {ok.shape}, expected {(m, n)}")
    ok[x, np.arange(n)] = True  # the start plan is always allowed
    # Pairs that could never fit (use above the whole capacity) are never entered.
    ok &= a <= b[:, None]
    all_ok = bool(ok.all())
    jobs = np.arange(n)
    stats = GapSearchStats()
    stats.start_objective = stats.best_objective = plan_cost(c, x)
    if m < 2 or n < 1:
        stats.seconds = time.perf_counter() - t0
        return x, stats

    rng = np.random.default_rng(cfg.seed)
    t_lo, t_hi = cfg.tenure_range(n)
    alpha_up, alpha_down = cfg.alpha_rates(m, n)
    alpha0 = cfg.alpha_start * float(np.abs(c).mean() + 1.0) / float(a.mean() + 1e-9)
    if cfg.compiled:
        from tools.sourcing.gap_kernel import KernelSettings, search

        run = search(
            c,
            a,
            b,
            ok,
            x,
            deadline=deadline,
            cfg=KernelSettings(
                alpha0=alpha0,
                alpha_up=alpha_up,
                alpha_down=alpha_down,
                alpha_lo=alpha0 * cfg.alpha_min,
                alpha_hi=alpha0 * cfg.alpha_max,
                tenure_lo=t_lo,
                tenure_hi=t_hi,
                restart_after=cfg.restart_after,
                chains=cfg.chains,
                chain_depth=cfg.chain_depth,
                max_iterations=cfg.max_iterations,
                seed=cfg.seed,
            ),
        )
        stats.iterations = run.iterations
        stats.improvements = run.improvements
        stats.restarts = run.restarts
        stats.feasible_iterations = run.feasible_iterations
        stats.history = run.history
        best = run.best_x
        # The kernel tracks costs incrementally: check its plan against the start once more.
        if plan_cost(c, best) > stats.start_objective or not plan_fits(a, capacity, best):
            best = x  # pragma: no cover - a kernel fault; the start is always valid
        stats.best_objective = plan_cost(c, best)
        stats.seconds = time.perf_counter() - t0
        return best, stats
    alpha = alpha0
    big = np.inf
    blocked_shift = np.where(ok, 0.0, big)  # (m, n)
    a_over_b = a - b[:, None]  # (m, n): use of job j on agent i minus i's capacity

    load = plan_loads(a, x)
    cur_cost = plan_cost(c, x)
    best_x, best_cost = x.copy(), cur_cost
    tabu = np.zeros((m, n), dtype=np.int64)  # iteration until which job j may not enter agent i
    member = np.zeros((m, n), dtype=bool)  # member[i, j]: job j is on agent i
    member[x, jobs] = True
    tenures: list[int] = []  # tabu tenures, drawn 1024 at a time
    draw = 0
    since_best = 0
    limit = cfg.max_iterations
    it = 0
    while limit is None or it < limit:
        if (it & 15) == 0 and time.perf_counter() > deadline:
            break
        it += 1
        over = np.maximum(0.0, load - b)
        total_over = float(over.sum())
        own_c = c[x, jobs]
        own_a = a[x, jobs]
        # -- shift moves: job j to agent i ------------------------------------------------
        src_left = load[x] - own_a
        d_src = np.maximum(0.0, src_left - b[x]) - over[x]  # (n,)
        d_tgt = a_over_b + load[:, None]
        np.maximum(d_tgt, 0.0, out=d_tgt)
        d_tgt -= over[:, None]  # (m, n)
        s_over = d_tgt + d_src[None, :]
        s_cost = c - own_c[None, :]
        s_score = alpha * s_over
        s_score += s_cost
        s_score += blocked_shift
        s_score[x, jobs] = big
        tabu_now = tabu > it
        s_tabu = tabu_now
        if cur_cost + float(s_cost.min()) < best_cost - 1e-9:  # aspiration is possible
            s_tabu = tabu_now & ~(
                (total_over + s_over <= 1e-9) & (cur_cost + s_cost < best_cost - 1e-9)
            )
        np.copyto(s_score, big, where=s_tabu)
        si = int(np.argmin(s_score))
        s_best = float(s_score.flat[si])
        # -- swap moves: jobs p and q trade agents ----------------------------------------
        # D[p, q]: cost change of job q moving to p's agent; d1[p, q]: overload change on p's
        # agent when p leaves it and q arrives; W = D + alpha * d1 is one half of a swap's
        # score (W[p, q] + W[q, p]) and the first step of an ejection chain.
        D = c[x]
        D -= own_c[None, :]
        d1 = a[x]
        d1 += (load[x] - own_a - b[x])[:, None]
        np.maximum(d1, 0.0, out=d1)
        d1 -= over[x][:, None]
        W = alpha * d1
        W += D
        same = member[x]  # same[p, q]: p and q on the same agent
        tx = tabu[x] > it  # q may not enter p's agent
        e_bad = same | tx if all_ok else same | ~ok[x] | tx
        Wm = W.copy()
        np.copyto(Wm, big, where=e_bad)
        w_score = Wm + Wm.T
        if cur_cost + 2.0 * float(D.min()) < best_cost - 1e-9:  # aspiration may be possible
            # A tabu swap is still taken when it gives the best plan within capacity so far:
            # check the few tabu pairs only.
            tp, tq = np.nonzero(tx)
            if len(tp):
                pp = np.concatenate([tp, tq])
                qq = np.concatenate([tq, tp])
                fine = x[pp] != x[qq]
                if not all_ok:
                    fine &= ok[x[pp], qq] & ok[x[qq], pp]
                asp = (
                    fine
                    & (total_over + d1[pp, qq] + d1[qq, pp] <= 1e-9)
                    & (cur_cost + D[pp, qq] + D[qq, pp] < best_cost - 1e-9)
                )
                if asp.any():
                    pa, qa = pp[asp], qq[asp]
                    w_score[pa, qa] = W[pa, qa] + W[qa, pa]
        wi = int(np.argmin(w_score))
        w_best = float(w_score.flat[wi])
        e_best = big
        if cfg.chains:
            # p leaves for its best other agent (not q's: that is a swap), q takes p's place.
            tgt = alpha * d_tgt
            tgt += s_cost
            tgt += blocked_shift
            tgt[x, jobs] = big
            np.copyto(tgt, big, where=tabu_now)
            top2 = np.argpartition(tgt, 1, axis=0)[:2]  # (2, n)
            v2 = tgt[top2, jobs]
            first = np.argmin(v2, axis=0)
            a1 = top2[first, jobs]
            v1 = v2[first, jobs]
            vb = v2[1 - first, jobs]
            t3 = np.where(member[a1], vb[:, None], v1[:, None])
            e_base = Wm + (alpha * d_src)[None, :]
            # Longer chains: p does not leave for an agent with room but takes the place of a
            # job o, which leaves directly or in turn takes another job's place: level k holds
            # per job p its best exit through k displaced jobs and the first of them.
            g = Wm.T
            t3t = t3.T
            exit_v = np.full(n, big)
            levels: list[tuple[IntArray, FloatArray]] = []
            for _ in range(cfg.chain_depth - 1):
                prev = exit_v
                cand = g + np.minimum(t3t, prev[None, :])
                o_of = np.argmin(cand, axis=1)
                exit_v = cand[jobs, o_of]
                levels.append((o_of, prev))
            e_score = e_base + np.minimum(t3, exit_v[:, None])
            ei = int(np.argmin(e_score))
            e_best = float(e_score.flat[ei])
        if not (np.isfinite(s_best) or np.isfinite(w_best) or np.isfinite(e_best)):
            break  # every move is tabu or forbidden
        if s_best <= w_best and s_best <= e_best:
            i, j = divmod(si, n)
            moves = [(j, i)]
        elif e_best < w_best:
            p, q = divmod(ei, n)
            moves = [(q, int(x[p]))]  # q takes p's place
            behind, job = q, p  # `job` leaves: directly, or into the place of a further job
            direct = not exit_v[p] < t3[p, q]
            seen = {q, p}
            level = len(levels) - 1
            while not direct and level >= 0:
                o_of, prev = levels[level]
                o = int(o_of[job])
                if o in seen:
                    break
                moves.append((job, int(x[o])))
                seen.add(o)
                behind, job = job, o
                direct = not prev[o] < t3[o, behind]
                level -= 1
            dest = int(a1[job]) if a1[job] != x[behind] else int(top2[1 - first[job], job])
            moves.append((job, dest))
        else:
            p, q = divmod(wi, n)
            moves = [(p, int(x[q])), (q, int(x[p]))]
        for j, i in moves:
            old = int(x[j])
            load[old] -= a[old, j]
            load[i] += a[i, j]
            cur_cost += c[i, j] - c[old, j]
            x[j] = i
            member[old, j] = False
            member[i, j] = True
            if draw >= len(tenures):
                tenures, draw = rng.integers(t_lo, t_hi + 1, size=1024).tolist(), 0
            tabu[old, j] = it + tenures[draw]
            draw += 1
        feasible = bool(np.all(load <= b))
        if feasible:
            stats.feasible_iterations += 1
            alpha = max(alpha0 * cfg.alpha_min, alpha / alpha_down)
            if cur_cost < best_cost - 1e-9:
                best_cost = cur_cost
                best_x = x.copy()
                stats.improvements += 1
                stats.history.append((it, best_cost))
                since_best = 0
                continue
        else:
            alpha = min(alpha0 * cfg.alpha_max, alpha * alpha_up)
        since_best += 1
        if since_best >= cfg.restart_after:
            x = best_x.copy()
            member[:] = False
            member[x, jobs] = True
            load = plan_loads(a, x)
            cur_cost = best_cost
            alpha = alpha0
            tabu[:] = 0
            since_best = 0
            stats.restarts += 1
    stats.iterations = it
    stats.best_objective = plan_cost(c, best_x)
    stats.seconds = time.perf_counter() - t0
    return best_x, stats


def _check(c: FloatArray, a: FloatArray, b: FloatArray, x: IntArray) -> None:
    if c.ndim != 2 or c.shape != a.shape or b.shape != (c.shape[0],):
        raise GapSearchError(f"shapes differ: cost {c.shape}, use {a.shape}, capacity {b.shape}")
    if x.shape != (c.shape[1],):
        raise GapSearchError(f"start has {x.shape} entries, expected one per job ({c.shape[1]})")
    if len(x) and (x.min() < 0 or x.max() >= c.shape[0]):
        raise GapSearchError("start names an agent that does not exist")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(a))):
        raise GapSearchError("cost and use must be finite")


@dataclass(frozen=True)
class DenseGap:
    """An assignment problem that is a pure GAP, as matrices: option `option[i, j]` (-1: none)
    sends job j to agent i at `cost[i, j]`, using `use[i, j]` of agent i's `capacity[i]`."""

    cost: FloatArray
    use: FloatArray
    capacity: FloatArray
    option: IntArray
    allowed: BoolArray


def dense_gap(problem: AssignmentProblem, usable: BoolArray) -> DenseGap | None:
    """The problem as a dense GAP when it is one: every job must be covered, every usable option
    uses exactly one resource (its agent) and no job has two options on the same agent.
    None otherwise (multi-resource options, optional jobs): the phase does not apply."""
    if np.any(np.isfinite(problem.uncovered_penalty)):
        return None
    ids = np.flatnonzero(usable)
    if len(ids) == 0 or np.any(np.diff(problem.use_start)[ids] != 1):
        return None
    agent = problem.use_resource[problem.use_start[ids]]
    job = problem.option_job[ids]
    m, n = problem.n_resources, problem.n_jobs
    option = np.full((m, n), -1, dtype=np.int64)
    option[agent, job] = ids
    if int(np.count_nonzero(option >= 0)) != len(ids):
        return None  # two options of one job on the same agent
    allowed = option >= 0
    if not np.all(allowed.any(axis=0)):
        return None
    cost = np.zeros((m, n))
    use = np.zeros((m, n))
    cost[agent, job] = problem.option_cost[ids]
    use[agent, job] = problem.use_amount[problem.use_start[ids]]
    # Pairs without an option: never entered (cost and use only keep the arithmetic finite).
    use[~allowed] = problem.capacity[np.nonzero(~allowed)[0]] + 1.0
    return DenseGap(cost, use, problem.capacity.astype(np.float64), option, allowed)
