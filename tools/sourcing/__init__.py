"""Sourcing: candidate resolutions, their expected-cost score and batch re-sourcing.

The names other packages use, importable from here:

- `apply_event`, `Situation` (situation.py): an event's facts applied to a view;
- `SourcingLimits` (limits.py): what the policy forbids sourcing to propose;
- `generate_candidates` (candidates.py): every resolution of one order, best first;
  `pending_candidates` the same, each built only when asked for (pending.py);
- `score`, `ScoreInput`, `Leg` (score.py): the expected-cost breakdown;
- `plan_batch`, `BatchPlan` (batch.py): re-sourcing a network-wide event at once;
- `greedy_candidate`, `greedy_batch` (greedy.py): the "static rules" baseline;
- `solve_assignment`, `AssignmentBuilder`, `SolverSettings` (assignment.py): the engine;
- `run_batch_benchmark`, `surge_network` (synthetic.py): the 10k-order surge benchmark.
"""

from tools.sourcing.assignment import AssignmentBuilder, SolverSettings, solve_assignment
from tools.sourcing.batch import BatchPlan, OrderPlan, UncoveredOrder, plan_batch
from tools.sourcing.candidates import UnknownOrderError, generate_candidates
from tools.sourcing.greedy import greedy_batch, greedy_candidate
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.score import Leg, ScoreInput, score
from tools.sourcing.situation import Situation, apply_event
from tools.sourcing.synthetic import run_batch_benchmark, surge_network

__all__ = [
    "AssignmentBuilder",
    "BatchPlan",
    "Leg",
    "OrderPlan",
    "ScoreInput",
    "Situation",
    "SolverSettings",
    "SourcingLimits",
    "UncoveredOrder",
    "UnknownOrderError",
    "apply_event",
    "generate_candidates",
    "greedy_batch",
    "greedy_candidate",
    "plan_batch",
    "run_batch_benchmark",
    "score",
    "solve_assignment",
    "surge_network",
]
