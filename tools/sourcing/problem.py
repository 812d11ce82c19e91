"""The generic assignment problem under batch re-sourcing and GAP, and its solutions.

Each job picks exactly one of its options (or, when it has an `uncovered_penalty`, none, at
that cost); an option has a cost and consumes amounts of resources; the options chosen may not
consume more of a resource than its capacity. Minimise the total cost.

Order re-sourcing maps onto it directly (job = order, option = node + carrier service, resources
= node pick capacity and inventory per node/SKU), and so does the OR-Library generalized
assignment problem (job = job, option = agent, one resource per agent).

`tools.sourcing.assignment.solve_assignment` always returns a plan that respects every
capacity:

1. the LP relaxation (HiGHS simplex): its objective is the lower bound that gaps are measured
   against (raised by the MIP's dual bound when the MIP runs);
2. small problems (`mip_max_options`): the exact MIP (HiGHS branch and cut), warm-started with
   the heuristic plan below and proven optimal when the time allows;
3. otherwise, and for the MIP's warm start: rounding of the LP solution, repair of overloaded
   resources, local search (shift and swap/ejection moves) and large-neighbourhood search that
   re-optimises a few dozen jobs at a time exactly with small HiGHS MIPs;
4. jobs that cannot be covered are named in `left_over` with the reason: no option at all, or
   capacity/inventory exhausted (the plan then covers as many jobs as it can).

The heuristic phases are limited by work (rounds, branch-and-bound nodes), not by the clock,
so the same problem gives the same plan; `time_limit_s` is a hard cap on top (a plan cut short
by it says so in `time_limited`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Numerical slack on capacities: amounts are sums of floats.
CAPACITY_EPS = 1e-6
UNCOVERED = -1


class AssignmentError(ValueError):
    """A malformed assignment problem (the message names the offending job/option/resource)."""


@dataclass(frozen=True)
class AssignmentProblem:
    """Jobs, their options and the resources the options consume, as flat arrays.

    Options are numbered 0..K-1 in the order they were given; `option_job[k]` is the job that
    option k belongs to. The resources option k consumes are
    `use_resource[use_start[k]:use_start[k+1]]` with amounts `use_amount[...]`.
    `uncovered_penalty[j]` is the cost of leaving job j without an option (inf: must cover).
    `option_group[k]` says where option k sends its job (the node, the GAP agent): the search
    re-optimises the jobs of a few groups together. By default, the option's first resource.
    """

    job_names: tuple[str, ...]
    resource_names: tuple[str, ...]
    capacity: FloatArray
    option_job: IntArray
    option_cost: FloatArray
    use_start: IntArray
    use_resource: IntArray
    use_amount: FloatArray
    uncovered_penalty: FloatArray
    option_group: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if len(self.option_group) == 0 and len(self.option_cost) > 0:
            has_use = np.diff(self.use_start) > 0
            first = np.full(len(self.option_cost), -1, dtype=np.int64)
            first[has_use] = self.use_resource[self.use_start[:-1][has_use]]
            object.__setattr__(self, "option_group", first)
        self.validate()

    @property
    def n_jobs(self) -> int:
        return len(self.job_names)

    @property
    def n_options(self) -> int:
        return len(self.option_cost)

    @property
    def n_resources(self) -> int:
        return len(self.resource_names)

    def validate(self) -> None:
        j, k, r = self.n_jobs, self.n_options, self.n_resources
        if self.capacity.shape != (r,):
            raise AssignmentError(f"capacity: expected {r} values, got {self.capacity.shape}")
        if self.uncovered_penalty.shape != (j,):
            raise AssignmentError(
                f"uncovered_penalty: expected {j} values, got {self.uncovered_penalty.shape}"
            )
        if self.option_job.shape != (k,):
            raise AssignmentError("option_job and option_cost must have the same length")
        if self.use_start.shape != (k + 1,) or self.use_start[0] != 0:
            raise AssignmentError("use_start must have one offset per option plus one, from 0")
        if np.any(np.diff(self.use_start) < 0) or self.use_start[-1] != len(self.use_resource):
            raise AssignmentError("use_start offsets must be non-decreasing up to len(uses)")
        if self.option_group.shape != (k,):
            raise AssignmentError(f"option_group: expected {k} values")
        if self.use_resource.shape != self.use_amount.shape:
            raise AssignmentError("use_resource and use_amount must have the same length")
        if k and (self.option_job.min() < 0 or self.option_job.max() >= j):
            bad = int(np.flatnonzero((self.option_job < 0) | (self.option_job >= j))[0])
            raise AssignmentError(f"option {bad}: unknown job {int(self.option_job[bad])}")
        if len(self.use_resource) and (self.use_resource.min() < 0 or self.use_resource.max() >= r):
            bad = int(np.flatnonzero((self.use_resource < 0) | (self.use_resource >= r))[0])
            raise AssignmentError(f"use {bad}: unknown resource {int(self.use_resource[bad])}")
        if not np.all(np.isfinite(self.option_cost)):
            bad = int(np.flatnonzero(~np.isfinite(self.option_cost))[0])
            raise AssignmentError(f"option {bad}: cost must be finite")
        if np.any(self.use_amount < 0) or not np.all(np.isfinite(self.use_amount)):
            bad = int(np.flatnonzero(~(self.use_amount >= 0) | ~np.isfinite(self.use_amount))[0])
            raise AssignmentError(f"use {bad}: amount must be finite and >= 0")
        if np.any(self.capacity < 0) or np.any(np.isnan(self.capacity)):
            bad = int(np.flatnonzero(~(self.capacity >= 0))[0])
            raise AssignmentError(f"resource {self.resource_names[bad]!r}: capacity must be >= 0")
        if np.any(np.isnan(self.uncovered_penalty)) or np.any(np.isneginf(self.uncovered_penalty)):
            raise AssignmentError("uncovered_penalty must be a number or +inf (must cover)")

    def uses(self, option: int) -> tuple[IntArray, FloatArray]:
        lo, hi = self.use_start[option], self.use_start[option + 1]
        return self.use_resource[lo:hi], self.use_amount[lo:hi]

    def options_of(self) -> list[list[int]]:
        """Option indices per job, cheapest first (ties by option index)."""
        order = np.lexsort((np.arange(self.n_options), self.option_cost, self.option_job))
        out: list[list[int]] = [[] for _ in range(self.n_jobs)]
        for k in order.tolist():
            out[int(self.option_job[k])].append(k)
        return out

    def loads(self, choice: Sequence[int] | IntArray) -> FloatArray:
        """Resource consumption of a choice vector (UNCOVERED entries consume nothing)."""
        chosen = np.asarray(choice, dtype=np.int64)
        chosen = chosen[chosen >= 0]
        lengths = self.use_start[chosen + 1] - self.use_start[chosen]
        if lengths.sum() == 0:
            return np.zeros(self.n_resources)
        idx = np.repeat(self.use_start[chosen] - np.cumsum(lengths) + lengths, lengths) + (
            np.arange(lengths.sum())
        )
        return np.bincount(
            self.use_resource[idx], weights=self.use_amount[idx], minlength=self.n_resources
        ).astype(np.float64)

    def objective(self, choice: Sequence[int] | IntArray, covered_only: bool = False) -> float:
        """Total cost of a choice vector: chosen options plus penalties of uncovered jobs.

        Must-cover jobs left uncovered add nothing here (they are reported, not priced)."""
        chosen = np.asarray(choice, dtype=np.int64)
        total = float(self.option_cost[chosen[chosen >= 0]].sum())
        if not covered_only:
            pen = self.uncovered_penalty[chosen < 0]
            total += float(pen[np.isfinite(pen)].sum())
        return total

    def violations(self, choice: Sequence[int] | IntArray) -> list[str]:
        """Every way a choice vector breaks the problem (empty when it is a valid plan)."""
        chosen = np.asarray(choice, dtype=np.int64)
        problems: list[str] = []
        if chosen.shape != (self.n_jobs,):
            return [f"expected one choice per job ({self.n_jobs}), got {chosen.shape}"]
        for j, k in enumerate(chosen.tolist()):
            if k >= self.n_options or (k >= 0 and int(self.option_job[k]) != j):
                problems.append(f"job {self.job_names[j]}: option {k} is not one of its options")
        if problems:
            return problems
        load = self.loads(chosen)
        for r in np.flatnonzero(load > self.capacity + CAPACITY_EPS).tolist():
            problems.append(
                f"resource {self.resource_names[r]}: uses {load[r]:g} of capacity "
                f"{self.capacity[r]:g}"
            )
        return problems


@dataclass
class AssignmentBuilder:
    """Builds an `AssignmentProblem` one job, option and resource at a time."""

    _jobs: list[str] = field(default_factory=list)
    _penalty: list[float] = field(default_factory=list)
    _resources: list[str] = field(default_factory=list)
    _capacity: list[float] = field(default_factory=list)
    _resource_index: dict[str, int] = field(default_factory=dict)
    _option_job: list[int] = field(default_factory=list)
    _option_cost: list[float] = field(default_factory=list)
    _use_start: list[int] = field(default_factory=lambda: [0])
    _use_resource: list[int] = field(default_factory=list)
    _use_amount: list[float] = field(default_factory=list)
    _group: list[int] = field(default_factory=list)

    def resource(self, name: str, capacity: float) -> int:
        """Index of resource `name`, created with `capacity` the first time it is named."""
        found = self._resource_index.get(name)
        if found is not None:
            return found
        self._resource_index[name] = len(self._resources)
        self._resources.append(name)
        self._capacity.append(float(capacity))
        return len(self._resources) - 1

    def has_resource(self, name: str) -> bool:
        return name in self._resource_index

    def job(self, name: str, uncovered_penalty: float | None = None) -> int:
        self._jobs.append(name)
        self._penalty.append(math.inf if uncovered_penalty is None else float(uncovered_penalty))
        return len(self._jobs) - 1

    def option(
        self,
        job: int,
        cost: float,
        uses: Mapping[int, float] | None = None,
        group: int | None = None,
    ) -> int:
        """Add an option to `job`; returns its option index. `group`: where it sends the job
        (default: its first resource)."""
        if not 0 <= job < len(self._jobs):
            raise AssignmentError(f"option for unknown job {job}")
        self._option_job.append(job)
        self._option_cost.append(float(cost))
        first = -1
        for res, amount in (uses or {}).items():
            if amount:
                first = res if first < 0 else first
                self._use_resource.append(res)
                self._use_amount.append(float(amount))
        self._use_start.append(len(self._use_resource))
        self._group.append(first if group is None else group)
        return len(self._option_cost) - 1

    @property
    def n_options(self) -> int:
        return len(self._option_cost)

    def build(self) -> AssignmentProblem:
        return AssignmentProblem(
            job_names=tuple(self._jobs),
            resource_names=tuple(self._resources),
            capacity=np.asarray(self._capacity, dtype=np.float64),
            option_job=np.asarray(self._option_job, dtype=np.int64),
            option_cost=np.asarray(self._option_cost, dtype=np.float64),
            use_start=np.asarray(self._use_start, dtype=np.int64),
            use_resource=np.asarray(self._use_resource, dtype=np.int64),
            use_amount=np.asarray(self._use_amount, dtype=np.float64),
            uncovered_penalty=np.asarray(self._penalty, dtype=np.float64),
            option_group=np.asarray(self._group, dtype=np.int64),
        )


class Method:
    MIP = "mip"
    HEURISTIC = "lp+repair+ls"
    GAP_SEARCH = "lp+repair+ls+tabu"  # the dedicated GAP tabu search found the plan


@dataclass(frozen=True)
class AssignmentSolution:
    """A plan for an assignment problem, with its bound and how it was found.

    `choice[j]` is the option job j takes, or UNCOVERED (-1). `objective` prices the chosen
    options plus the penalties of uncovered jobs that have one; must-cover jobs that could not
    be covered are in `left_over` (with `reasons`) and not priced. `lower_bound` is the LP
    relaxation's objective, raised by the MIP's dual bound when the MIP ran (None when the
    problem cannot be covered in full, so no bound applies to the partial plan).
    """

    choice: tuple[int, ...]
    objective: float
    lower_bound: float | None
    seconds: float
    method: str
    optimal: bool
    left_over: tuple[int, ...] = ()
    reasons: Mapping[int, str] = field(default_factory=dict)
    time_limited: bool = False
    stats: Mapping[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """Every must-cover job is covered (the plan always respects capacities)."""
        return not self.left_over

    @property
    def uncovered(self) -> tuple[int, ...]:
        return tuple(j for j, k in enumerate(self.choice) if k == UNCOVERED)

    @property
    def gap_pct(self) -> float | None:
        """(objective - lower bound) / |lower bound| in percent; None without a bound."""
        return gap_pct(self.objective, self.lower_bound)


def gap_pct(objective: float, bound: float | None) -> float | None:
    """Relative gap in percent of `objective` above `bound` (0 when it is not above)."""
    if bound is None:
        return None
    diff = max(0.0, objective - bound)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    if abs(bound) < 1e-9:
        return math.inf
    return 100.0 * diff / abs(bound)


def from_matrix(
    cost: Iterable[Iterable[float]],
    use: Iterable[Iterable[float]],
    capacity: Iterable[float],
    job_names: Sequence[str] | None = None,
    resource_names: Sequence[str] | None = None,
) -> AssignmentProblem:
    """The classic GAP: agent i (a resource of `capacity[i]`) can do job j at `cost[i][j]`,
    consuming `use[i][j]` of its capacity; every job must be assigned."""
    c = np.asarray([list(row) for row in cost], dtype=np.float64)
    a = np.asarray([list(row) for row in use], dtype=np.float64)
    b = np.asarray(list(capacity), dtype=np.float64)
    if c.ndim != 2 or c.shape != a.shape or b.shape != (c.shape[0],):
        raise AssignmentError(
            f"GAP shapes differ: cost {c.shape}, use {a.shape}, capacity {b.shape}"
        )
    m, n = c.shape
    # Option k = j*m + i: job j done by agent i.
    option_job = np.repeat(np.arange(n, dtype=np.int64), m)
    agent = np.tile(np.arange(m, dtype=np.int64), n)
    return AssignmentProblem(
        job_names=tuple(job_names) if job_names else tuple(f"job{j + 1}" for j in range(n)),
        resource_names=(
            tuple(resource_names) if resource_names else tuple(f"agent{i + 1}" for i in range(m))
        ),
        capacity=b,
        option_job=option_job,
        option_cost=c.T.ravel().copy(),
        use_start=np.arange(m * n + 1, dtype=np.int64),
        use_resource=agent,
        use_amount=a.T.ravel().copy(),
        uncovered_penalty=np.full(n, math.inf),
        option_group=agent.copy(),
    )
