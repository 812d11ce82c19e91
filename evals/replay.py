"""The replay harness: every case of a dataset through a decision policy, scored.

`replay(dataset, policies, seed, trials, limit)` stages each case (evals/policies.py), asks
each policy for a decision, checks it against the case's `expected` block
(evals/expectations.py), re-evaluates what it executes against the guardrails, and plays the
final fulfilment of every affected order out under the hidden truth (evals/outcomes.py).
Results are `CaseResult`s; evals/metrics.py aggregates them. Progress shows with rich.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evals.cases import ReplayCase, read_cases
from evals.expectations import check_expected
from evals.outcomes import simulate
from evals.policies import (
    POLICIES,
    Decided,
    Decider,
    Staged,
    decider,
    guardrail_violations,
    person_fulfilments,
    stage,
)
from tools.inputs import InputError
from tools.view import NetworkView


class OrderScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: str
    kept: bool
    p_on_time: float
    lateness_days: float
    cost: float
    failure: str | None = None


class CaseResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case: str
    family: str
    policy: str
    trial: int = 0
    status: str
    expected_failures: list[str] = Field(default_factory=list)
    has_expected: bool = False
    violations: list[str] = Field(default_factory=list)
    orders: list[OrderScore] = Field(default_factory=list)
    latency_ms: float = 0.0
    tokens: int = 0
    error: str | None = None

    @property
    def expected_pass(self) -> bool:
        return not self.expected_failures


class ReplayError(InputError):
    pass


def load_dataset(dataset: Path, limit: int | None = None) -> list[ReplayCase]:
    cases = list(read_cases(dataset))
    if not cases:
        raise ReplayError(f"dataset {dataset}", ["no cases"])
    return cases[:limit] if limit is not None else cases


def parse_policies(text: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if not names or unknown:
        raise ReplayError(
            "--policy",
            [f"unknown policy {p!r}; one of {', '.join(POLICIES)}" for p in unknown]
            or ["no policy given"],
        )
    return list(dict.fromkeys(names))


def replay(
    dataset: Path,
    policies: Sequence[str],
    *,
    seed: int = 0,
    trials: int = 1,
    limit: int | None = None,
    console: Console | None = None,
) -> list[CaseResult]:
    """Run every case through every policy (see the module docstring)."""
    if trials < 1:
        raise ReplayError("--trials", ["must be at least 1"])
    cases = load_dataset(dataset, limit)
    base = dataset.parent
    networks: dict[str, NetworkView] = {}
    staged = [stage(c, base, networks) for c in cases]  # bad input fails before any run
    results: list[CaseResult] = []
    console = console or Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        for name in policies:
            runs = trials
            task = progress.add_task(f"{name:9}", total=len(staged) * runs)
            with decider(name, seed) as policy:
                for trial in range(runs):
                    for s in staged:
                        results.append(_run_one(policy, name, s, seed, trial))
                        progress.advance(task)
    return results


def _run_one(policy: Decider, name: str, s: Staged, seed: int, trial: int) -> CaseResult:
    case = s.case
    try:
        decided = policy.decide(s)
    except Exception as exc:  # a crash is a failed case, reported, never hidden
        return CaseResult(
            case=case.id,
            family=case.family,
            policy=name,
            trial=trial,
            status="failed",
            has_expected=case.expected is not None,
            expected_failures=[f"decision failed: {type(exc).__name__}: {exc}"],
            error=f"{type(exc).__name__}: {exc}",
        )
    return score_case(s, name, decided, seed, trial)


def score_case(s: Staged, name: str, decided: Decided, seed: int, trial: int = 0) -> CaseResult:
    """Check a decision against the case's expectations, the guardrails and the truth."""
    case = s.case
    failures = (
        check_expected(decided.decision, case.expected, s.view) if case.expected is not None else []
    )
    orders = []
    for plan in person_fulfilments(s, decided, seed):
        if plan.order not in s.view.orders:
            continue
        r = simulate(
            s.event_view, s.situation, s.truth, plan, case_id=case.id, seed=seed, trial=trial
        )
        orders.append(
            OrderScore(
                order=r.order,
                kept=r.kept,
                p_on_time=round(r.p_on_time, 4),
                lateness_days=r.lateness_days,
                cost=round(r.cost, 2),
                failure=r.failure,
            )
        )
    return CaseResult(
        case=case.id,
        family=case.family,
        policy=name,
        trial=trial,
        status=decided.decision.status.value,
        expected_failures=failures,
        has_expected=case.expected is not None,
        violations=guardrail_violations(s, decided),
        orders=orders,
        latency_ms=round(decided.latency_ms, 3),
        tokens=decided.tokens,
    )
