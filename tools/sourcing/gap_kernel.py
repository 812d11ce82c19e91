"""The GAP tabu search's inner loop compiled with numba: the same moves, scores and rules as the
numpy loop of `tools.sourcing.gap_search.tabu_search`, written as plain loops.

Per iteration it scores every shift (m x n), every swap and every ejection chain (n x n, each
with its best continuation through up to `chain_depth - 1` displaced jobs), takes the best
non-tabu move (a tabu one when it gives the best plan within capacity so far), updates loads
and cost incrementally, adapts the overload penalty (strategic oscillation) and restarts from
the best plan after a long stretch without a better one. See `gap_search` for the method.

The loop runs in chunks of iterations (`run_chunk`); the caller checks the clock between
chunks, since the compiled code does not read it. All state (plan, loads, tabu list, penalty,
random generator) lives in arrays the caller owns, so a run is the same for a given seed and
iteration budget however it is cut into chunks. One thread, no parallel loops.

This module imports numba: import it only where the GAP search runs (never at the import of
`api`, the demo or the server). `cache=True` keeps the compiled code in `__pycache__`;
`warm_up` compiles (or loads) it before a timed run starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numpy.typing import NDArray

from tools.sourcing.problem import FloatArray, IntArray

BoolArray = NDArray[np.bool_]

# Slots of the integer state array.
IT, SINCE_BEST, IMPROVEMENTS, RESTARTS, FEASIBLE_ITERATIONS, STUCK, HISTORY = range(7)
INT_STATE = 7
# Slots of the float state array.
CUR_COST, BEST_COST, ALPHA = range(3)
FLOAT_STATE = 3
# Slots of the float parameters.
ALPHA0, ALPHA_UP, ALPHA_DOWN, ALPHA_LO, ALPHA_HI = range(5)
# Slots of the integer parameters.
TENURE_LO, TENURE_HI, RESTART_AFTER, CHAINS, CHAIN_DEPTH, LIMIT = range(6)

_EPS = 1e-9
CHUNK_SECONDS = 0.01  # the clock is read between chunks of about this long
MAX_CHUNK = 1 << 16
_XS_MUL = np.uint64(2685821657736338717)


def seed_state(seed: int) -> np.ndarray:
    """The generator state (xorshift64*) for a seed: never zero."""
    mixed = (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64)
    return np.array([mixed or 1], dtype=np.uint64)


@njit(cache=True)
def _draw(rng: np.ndarray, lo: int, hi: int) -> int:  # pragma: no cover - compiled
    s = rng[0]
    s ^= s >> np.uint64(12)
    s ^= s << np.uint64(25)
    s ^= s >> np.uint64(27)
    rng[0] = s
    r = (s * _XS_MUL) >> np.uint64(11)
    return lo + int(r % np.uint64(hi - lo + 1))


@njit(cache=True)
def _apply(
    c: np.ndarray,
    a: np.ndarray,
    x: np.ndarray,
    load: np.ndarray,
    tabu: np.ndarray,
    j: int,
    i: int,
    it: int,
    tenure: int,
) -> float:  # pragma: no cover - compiled
    """Move job j to agent i; returns the cost change."""
    old = x[j]
    load[old] -= a[old, j]
    load[i] += a[i, j]
    x[j] = i
    tabu[old, j] = it + tenure
    return c[i, j] - c[old, j]


@njit(cache=True)
def run_chunk(
    c: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    ok: np.ndarray,
    x: np.ndarray,
    load: np.ndarray,
    tabu: np.ndarray,
    best_x: np.ndarray,
    fparam: np.ndarray,
    iparam: np.ndarray,
    fstate: np.ndarray,
    istate: np.ndarray,
    rng: np.ndarray,
    hist_it: np.ndarray,
    hist_cost: np.ndarray,
    steps: int,
) -> int:  # pragma: no cover - compiled
    """Run up to `steps` iterations; returns how many ran. Stops early at the iteration limit
    or when every move is tabu or forbidden (then istate[STUCK] = 1). Improvements of the best
    plan are appended to hist_it / hist_cost (istate[HISTORY] counts them; the arrays must
    hold `steps` more)."""
    m, n = c.shape
    inf = np.inf
    alpha0 = fparam[ALPHA0]
    t_lo, t_hi = iparam[TENURE_LO], iparam[TENURE_HI]
    chains = iparam[CHAINS] != 0
    levels = iparam[CHAIN_DEPTH] - 1 if chains else 0  # chain levels through displaced jobs
    deep = levels >= 1
    limit = iparam[LIMIT]
    over = np.empty(m)
    own_c = np.empty(n)
    own_a = np.empty(n)
    d_src = np.empty(n)
    v1 = np.empty(n)
    vb = np.empty(n)
    a1 = np.empty(n, dtype=np.int64)
    a2 = np.empty(n, dtype=np.int64)
    wm = np.empty((n, n))
    lev_o = np.zeros((max(1, levels), n), dtype=np.int64)
    lev_prev = np.empty((max(1, levels), n))
    exit_v = np.empty(n)
    nxt = np.empty(n)
    mv_j = np.empty(levels + 2, dtype=np.int64)
    mv_i = np.empty(levels + 2, dtype=np.int64)
    done = 0
    while done < steps:
        it = istate[IT]
        if limit >= 0 and it >= limit:
            break
        it += 1
        istate[IT] = it
        done += 1
        cur_cost = fstate[CUR_COST]
        best_cost = fstate[BEST_COST]
        alpha = fstate[ALPHA]
        total_over = 0.0
        for i in range(m):
            o = load[i] - b[i]
            over[i] = o if o > 0.0 else 0.0
            total_over += over[i]
        for j in range(n):
            s = x[j]
            own_c[j] = c[s, j]
            own_a[j] = a[s, j]
            left = load[s] - own_a[j] - b[s]
            d_src[j] = (left if left > 0.0 else 0.0) - over[s]
            v1[j] = inf
            vb[j] = inf
            a1[j] = -1
            a2[j] = -1
        # -- shift moves; per job its two best non-tabu targets (exits of chains) ----------
        s_best = inf
        s_i = -1
        s_j = -1
        for i in range(m):
            li = load[i] - b[i]
            oi = over[i]
            for j in range(n):
                if i == x[j] or not ok[i, j]:
                    continue
                sc = c[i, j] - own_c[j]
                t = li + a[i, j]
                dt = (t if t > 0.0 else 0.0) - oi
                tg = sc + alpha * dt
                score = tg + alpha * d_src[j]
                if tabu[i, j] > it:
                    if (
                        score < s_best
                        and total_over + dt + d_src[j] <= _EPS
                        and cur_cost + sc < best_cost - _EPS
                    ):
                        s_best, s_i, s_j = score, i, j
                    continue
                if score < s_best:
                    s_best, s_i, s_j = score, i, j
                if tg < v1[j]:
                    vb[j] = v1[j]
                    a2[j] = a1[j]
                    v1[j] = tg
                    a1[j] = i
                elif tg < vb[j]:
                    vb[j] = tg
                    a2[j] = i
        # -- W[p, q]: q takes p's place (cost change of q, overload change on p's agent) ----
        # and the first chain level: p leaves into the place of o, which leaves directly.
        for j in range(n):
            exit_v[j] = inf
            lev_o[0, j] = 0
            lev_prev[0, j] = inf
        for p in range(n):
            xp = x[p]
            base = load[xp] - own_a[p] - b[xp]
            op = over[xp]
            a1p = a1[p]
            for q in range(n):
                if x[q] == xp or not ok[xp, q] or tabu[xp, q] > it:
                    wm[p, q] = inf
                    continue
                t = base + a[xp, q]
                w = c[xp, q] - own_c[q] + alpha * ((t if t > 0.0 else 0.0) - op)
                wm[p, q] = w
                if deep:
                    val = w + (vb[p] if x[q] == a1p else v1[p])
                    if val < exit_v[q]:
                        exit_v[q] = val
                        lev_o[0, q] = p
        if deep:
            for lev in range(1, levels):
                for j in range(n):
                    lev_prev[lev, j] = exit_v[j]
                    nxt[j] = inf
                    lev_o[lev, j] = 0
                for o in range(n):
                    a1o = a1[o]
                    eo = exit_v[o]
                    for p in range(n):
                        w = wm[o, p]
                        if w == inf:
                            continue
                        t3 = vb[o] if x[p] == a1o else v1[o]
                        val = w + (t3 if t3 < eo else eo)
                        if val < nxt[p]:
                            nxt[p] = val
                            lev_o[lev, p] = o
                for j in range(n):
                    exit_v[j] = nxt[j]
        # -- swaps (W[p, q] + W[q, p]) and chains (q takes p's place, p leaves) -------------
        w_best = inf
        w_p = -1
        w_q = -1
        e_best = inf
        e_p = -1
        e_q = -1
        for p in range(n):
            xp = x[p]
            a1p = a1[p]
            for q in range(n):
                w = wm[p, q]
                if q > p:
                    wr = wm[q, p]
                    if w < inf and wr < inf:
                        sw = w + wr
                        if sw < w_best:
                            w_best, w_p, w_q = sw, p, q
                    elif x[q] != xp and ok[xp, q] and ok[x[q], p]:
                        # A tabu swap: taken only when it gives the best plan within
                        # capacity so far (aspiration).
                        xq = x[q]
                        dc = c[xp, q] - own_c[q] + c[xq, p] - own_c[p]
                        if cur_cost + dc < best_cost - _EPS:
                            t1 = load[xp] - own_a[p] + a[xp, q] - b[xp]
                            t2 = load[xq] - own_a[q] + a[xq, p] - b[xq]
                            d1 = (t1 if t1 > 0.0 else 0.0) - over[xp]
                            d2 = (t2 if t2 > 0.0 else 0.0) - over[xq]
                            if total_over + d1 + d2 <= _EPS:
                                sw = dc + alpha * (d1 + d2)
                                if sw < w_best:
                                    w_best, w_p, w_q = sw, p, q
                if chains and w < inf:
                    t3 = vb[p] if x[q] == a1p else v1[p]
                    ev = exit_v[p]
                    e = w + alpha * d_src[q] + (t3 if t3 < ev else ev)
                    if e < e_best:
                        e_best, e_p, e_q = e, p, q
        if s_best == inf and w_best == inf and e_best == inf:
            istate[STUCK] = 1
            break  # every move is tabu or forbidden
        # -- the chosen move, as (job, agent) steps taken in order --------------------------
        k = 0
        if s_best <= w_best and s_best <= e_best:
            mv_j[0], mv_i[0] = s_j, s_i
            k = 1
        elif e_best < w_best:
            p, q = e_p, e_q
            mv_j[0], mv_i[0] = q, x[p]  # q takes p's place
            k = 1
            behind, job = q, p  # `job` leaves: directly, or into the place of a further job
            t3 = vb[p] if x[q] == a1[p] else v1[p]
            direct = not exit_v[p] < t3
            level = levels - 1
            while not direct and level >= 0:
                o = lev_o[level, job]
                seen = o == q or o == p or o == job  # noqa: PLR1714 (numba)
                for s in range(1, k):
                    if mv_j[s] == o:
                        seen = True
                if seen:
                    break
                mv_j[k], mv_i[k] = job, x[o]
                k += 1
                behind, job = job, o
                t3 = vb[o] if x[behind] == a1[o] else v1[o]
                direct = not lev_prev[level, o] < t3
                level -= 1
            dest = a1[job] if a1[job] != x[behind] else a2[job]
            if dest >= 0:
                mv_j[k], mv_i[k] = job, dest
                k += 1
        else:
            mv_j[0], mv_i[0] = w_p, x[w_q]
            mv_j[1], mv_i[1] = w_q, x[w_p]
            k = 2
        for s in range(k):
            cur_cost += _apply(c, a, x, load, tabu, mv_j[s], mv_i[s], it, _draw(rng, t_lo, t_hi))
        feasible = True
        for i in range(m):
            if load[i] > b[i]:
                feasible = False
                break
        fstate[CUR_COST] = cur_cost
        if feasible:
            istate[FEASIBLE_ITERATIONS] += 1
            fstate[ALPHA] = max(fparam[ALPHA_LO], alpha / fparam[ALPHA_DOWN])
            if cur_cost < best_cost - _EPS:
                fstate[BEST_COST] = cur_cost
                best_x[:] = x
                istate[IMPROVEMENTS] += 1
                h = istate[HISTORY]
                hist_it[h] = it
                hist_cost[h] = cur_cost
                istate[HISTORY] = h + 1
                istate[SINCE_BEST] = 0
                continue
        else:
            fstate[ALPHA] = min(fparam[ALPHA_HI], alpha * fparam[ALPHA_UP])
        istate[SINCE_BEST] += 1
        if istate[SINCE_BEST] >= iparam[RESTART_AFTER]:
            x[:] = best_x
            load[:] = 0.0
            for j in range(n):
                load[x[j]] += a[x[j], j]
            fstate[CUR_COST] = fstate[BEST_COST]
            fstate[ALPHA] = alpha0
            tabu[:, :] = 0
            istate[SINCE_BEST] = 0
            istate[RESTARTS] += 1
    return done


def warm_up() -> float:
    """Compile (or load from the cache) the kernel on a tiny instance; returns the seconds."""
    t0 = time.perf_counter()
    c = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])
    a = np.ones((2, 3))
    b = np.array([2.0, 2.0])
    x = np.array([0, 0, 1], dtype=np.int64)
    run_chunk(
        c,
        a,
        b,
        np.ones((2, 3), dtype=np.bool_),
        x,
        np.array([2.0, 1.0]),
        np.zeros((2, 3), dtype=np.int64),
        x.copy(),
        np.array([1.0, 1.1, 1.1, 1e-3, 1e3]),
        np.array([1, 2, 10, 1, 2, 4], dtype=np.int64),
        np.array([6.0, 6.0, 1.0]),
        np.zeros(INT_STATE, dtype=np.int64),
        seed_state(0),
        np.zeros(4, dtype=np.int64),
        np.zeros(4),
        4,
    )
    return time.perf_counter() - t0


@dataclass
class KernelRun:
    """What `search` did: the best plan within capacity and the counters of the run."""

    best_x: IntArray
    best_cost: float
    iterations: int = 0
    improvements: int = 0
    restarts: int = 0
    feasible_iterations: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class KernelSettings:
    """The search's knobs, resolved to numbers (see `GapSearchSettings`)."""

    alpha0: float
    alpha_up: float
    alpha_down: float
    alpha_lo: float
    alpha_hi: float
    tenure_lo: int
    tenure_hi: int
    restart_after: int
    chains: bool
    chain_depth: int
    max_iterations: int | None
    seed: int


def search(
    c: FloatArray,
    a: FloatArray,
    b: FloatArray,
    ok: BoolArray,
    start: IntArray,
    *,
    deadline: float,
    cfg: KernelSettings,
) -> KernelRun:
    """Tabu search from `start` (within capacity `b`, which already holds the tolerance) in
    chunks of iterations until `cfg.max_iterations` or `deadline` (time.perf_counter)."""
    m, n = c.shape
    x = np.ascontiguousarray(start, dtype=np.int64).copy()
    load = np.zeros(m)
    np.add.at(load, x, a[x, np.arange(n)])
    cost = float(c[x, np.arange(n)].sum())
    best_x = x.copy()
    fparam = np.array(
        [cfg.alpha0, cfg.alpha_up, cfg.alpha_down, cfg.alpha_lo, cfg.alpha_hi], dtype=np.float64
    )
    iparam = np.array(
        [
            cfg.tenure_lo,
            cfg.tenure_hi,
            cfg.restart_after,
            int(cfg.chains),
            cfg.chain_depth,
            -1 if cfg.max_iterations is None else cfg.max_iterations,
        ],
        dtype=np.int64,
    )
    fstate = np.array([cost, cost, cfg.alpha0])
    istate = np.zeros(INT_STATE, dtype=np.int64)
    rng = seed_state(cfg.seed)
    tabu = np.zeros((m, n), dtype=np.int64)
    run = KernelRun(best_x=best_x, best_cost=cost)
    args = (
        np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(ok, dtype=np.bool_),
    )
    steps = 8  # grows until a chunk takes about CHUNK_SECONDS
    while time.perf_counter() < deadline:
        hist_it = np.zeros(steps, dtype=np.int64)
        hist_cost = np.zeros(steps)
        istate[HISTORY] = 0
        t0 = time.perf_counter()
        done = run_chunk(
            *args, x, load, tabu, best_x, fparam, iparam, fstate, istate, rng,
            hist_it, hist_cost, steps,
        )  # fmt: skip
        took = time.perf_counter() - t0
        h = int(istate[HISTORY])
        run.history.extend(zip(hist_it[:h].tolist(), hist_cost[:h].tolist(), strict=True))
        if done < steps:
            break  # iteration limit, or every move tabu or forbidden
        if took < CHUNK_SECONDS / 2:
            steps = min(steps * 2, MAX_CHUNK)
        elif took > CHUNK_SECONDS * 2 and steps > 1:
            steps //= 2
    run.best_x = best_x
    run.best_cost = float(fstate[BEST_COST])
    run.iterations = int(istate[IT])
    run.improvements = int(istate[IMPROVEMENTS])
    run.restarts = int(istate[RESTARTS])
    run.feasible_iterations = int(istate[FEASIBLE_ITERATIONS])
    return run
