"""HiGHS models of (parts of) an assignment problem: the LP relaxation, the full MIP, and the
small MIPs that large-neighbourhood search re-optimises a few jobs with.

A model covers a set of jobs and a set of their options; the other jobs are fixed elsewhere
and only leave `capacity` (the residual) to share. Columns: one per option, one per job with
a finite uncovered penalty (its "uncovered" column) and, in elastic mode, one per must-cover
job at a large cost (so an over-constrained problem still has a solution that covers as many
jobs as possible). Rows: one "exactly one column" row per job, one "at most the capacity" row
per resource the options touch.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np

from tools.sourcing.highs import INF, new_highs
from tools.sourcing.problem import (
    UNCOVERED,
    AssignmentProblem,
    FloatArray,
    IntArray,
)

MIP_REL_GAP = 1e-6


@dataclass(frozen=True)
class ModelResult:
    """What HiGHS found for one model.

    `choice` maps each job of the model to its option (or UNCOVERED); `option_value` and
    `uncovered_value` hold the LP column values (relaxations) aligned with the model's
    `options` and `jobs`. `bound` is the LP objective or the MIP's dual bound.
    """

    status: str
    objective: float
    bound: float
    optimal: bool
    choice: dict[int, int]
    option_value: FloatArray
    uncovered_value: FloatArray
    nodes: int = 0


def _gather(problem: AssignmentProblem, options: IntArray) -> tuple[IntArray, IntArray]:
    """(lengths, flat use indices) of the given options' resource uses."""
    starts = problem.use_start[options]
    lengths = problem.use_start[options + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return lengths, np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    flat = np.repeat(starts - offsets, lengths) + np.arange(total)
    return lengths, flat


def solve_model(
    problem: AssignmentProblem,
    jobs: IntArray,
    options: IntArray,
    capacity: FloatArray,
    *,
    integer: bool,
    elastic_cost: float | None = None,
    start: dict[int, int] | None = None,
    time_limit_s: float | None = None,
    node_limit: int | None = None,
    cutoff: float | None = None,
) -> ModelResult | None:
    """Solve the model of `jobs` choosing among `options` within `capacity` (indexed by
    resource, full length). None when HiGHS finds no solution (infeasible, or out of time)."""
    n_jobs = len(jobs)
    job_row = np.full(problem.n_jobs, -1, dtype=np.int64)
    job_row[jobs] = np.arange(n_jobs)
    if len(options) and np.any(job_row[problem.option_job[options]] < 0):
        raise ValueError("every option of a model must belong to one of its jobs")

    lengths, flat = _gather(problem, options)
    used_resources = np.unique(problem.use_resource[flat]) if len(flat) else flat
    res_row = np.full(problem.n_resources, -1, dtype=np.int64)
    res_row[used_resources] = n_jobs + np.arange(len(used_resources))

    penalty = problem.uncovered_penalty[jobs]
    pen_jobs = np.flatnonzero(np.isfinite(penalty))
    ela_jobs = np.flatnonzero(~np.isfinite(penalty)) if elastic_cost is not None else pen_jobs[:0]
    n_opt = len(options)
    n_col = n_opt + len(pen_jobs) + len(ela_jobs)

    # Column-wise matrix: each option column = its job row, then its resource rows.
    col_len = np.concatenate([1 + lengths, np.ones(len(pen_jobs) + len(ela_jobs), np.int64)])
    col_start = np.concatenate([[0], np.cumsum(col_len)]).astype(np.int64)
    index = np.empty(int(col_start[-1]), dtype=np.int64)
    value = np.empty(int(col_start[-1]), dtype=np.float64)
    index[col_start[:n_opt]] = job_row[problem.option_job[options]]
    value[col_start[:n_opt]] = 1.0
    if len(flat):
        use_pos = np.repeat(col_start[:n_opt] + 1, lengths) + (
            np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        )
        index[use_pos] = res_row[problem.use_resource[flat]]
        value[use_pos] = problem.use_amount[flat]
    extra_rows = np.concatenate([pen_jobs, ela_jobs])
    index[col_start[n_opt:n_col]] = extra_rows
    value[col_start[n_opt:n_col]] = 1.0

    cost = np.concatenate(
        [
            problem.option_cost[options],
            penalty[pen_jobs],
            np.full(len(ela_jobs), elastic_cost if elastic_cost is not None else 0.0),
        ]
    )
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = n_jobs + len(used_resources)
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(n_col)
    lp.col_upper_ = np.ones(n_col)
    lp.row_lower_ = np.concatenate([np.ones(n_jobs), np.full(len(used_resources), -INF)])
    lp.row_upper_ = np.concatenate([np.ones(n_jobs), capacity[used_resources]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = col_start.astype(np.int32)
    lp.a_matrix_.index_ = index.astype(np.int32)
    lp.a_matrix_.value_ = value
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n_col

    options_set: dict[str, bool | int | float | str] = {"mip_rel_gap": MIP_REL_GAP}
    if time_limit_s is not None:
        options_set["time_limit"] = max(0.001, float(time_limit_s))
    if node_limit is not None:
        options_set["mip_max_nodes"] = int(node_limit)
    if cutoff is not None and integer:
        options_set["objective_bound"] = float(cutoff)
    highs = new_highs(options_set)
    highs.passModel(lp)
    if integer and start is not None:
        x = np.zeros(n_col)
        pen_col = {int(jobs[p]): n_opt + i for i, p in enumerate(pen_jobs)}
        ela_col = {int(jobs[p]): n_opt + len(pen_jobs) + i for i, p in enumerate(ela_jobs)}
        col_of_option = {int(k): i for i, k in enumerate(options.tolist())}
        complete = True
        for j in jobs.tolist():
            k = start.get(j, UNCOVERED)
            col = col_of_option.get(k) if k != UNCOVERED else pen_col.get(j, ela_col.get(j))
            if col is None:
                complete = False
                break
            x[col] = 1.0
        if complete:
            sol = highspy.HighsSolution()
            sol.col_value = x.tolist()
            sol.value_valid = True
            highs.setSolution(sol)
    highs.run()
    status = highs.getModelStatus()
    name = highs.modelStatusToString(status)
    info = highs.getInfo()
    if integer:
        if info.primal_solution_status != 2:  # kSolutionStatusFeasible
            return None
    elif status != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(highs.getSolution().col_value, dtype=np.float64)
    objective = float(info.objective_function_value)
    optimal = status == highspy.HighsModelStatus.kOptimal
    bound = float(info.mip_dual_bound) if integer else objective
    choice: dict[int, int] = {}
    if integer:
        picked = np.flatnonzero(x > 0.5)
        for col in picked.tolist():
            if col < n_opt:
                k = int(options[col])
                choice[int(problem.option_job[k])] = k
        for j in jobs.tolist():
            choice.setdefault(j, UNCOVERED)
    uncovered_value = np.zeros(n_jobs)
    uncovered_value[extra_rows] = x[n_opt:n_col]
    return ModelResult(
        status=name,
        objective=objective,
        bound=bound,
        optimal=optimal,
        choice=choice,
        option_value=x[:n_opt],
        uncovered_value=uncovered_value,
        nodes=int(info.mip_node_count) if integer else 0,
    )
