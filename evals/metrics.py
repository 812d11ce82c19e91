"""Metrics of a replay: per policy, overall and by family, with regret against the oracle.

- promise_kept_rate: affected orders delivered by their original promise / affected orders;
- cost_per_order: (cost deltas of what ran + re-work of failed picks and rejections + people's
  time) / affected orders;
- auto_resolution_rate, pending_approval_rate, escalation_rate: share of cases by status;
- expected_pass_rate: cases whose decision satisfies its `expected` block / cases with one;
  with several trials, pass^k = cases that pass in every trial / cases;
- guardrail_violations: executed plans the policy denies (or that needed an approval they
  did not get), re-evaluated after the fact; must be 0 for the agent;
- decision latency p50 / p99 (ms) and LLM tokens per decision;
- regret_promise_points: oracle's promise_kept_rate minus this policy's, in points;
  regret_cost_per_order: this policy's cost per order minus the oracle's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from evals.replay import CaseResult


class Metrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: int
    orders: int
    promise_kept_rate: float
    cost_per_order: float
    auto_resolution_rate: float
    pending_approval_rate: float
    escalation_rate: float
    expected_pass_rate: float | None
    pass_k: float | None = None
    trials: int = 1
    guardrail_violations: int
    decision_latency_p50_ms: float
    decision_latency_p99_ms: float
    llm_tokens_per_decision: float
    mean_lateness_days_when_late: float
    failures: dict[str, int] = Field(default_factory=dict)
    errors: int = 0
    regret_promise_points: float | None = None
    regret_cost_per_order: float | None = None


class PolicyMetrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overall: Metrics
    by_family: dict[str, Metrics]


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _metrics(results: Sequence[CaseResult]) -> Metrics:
    orders = [o for r in results for o in r.orders]
    n_cases = len(results)  # runs: cases x trials
    statuses = Counter(r.status for r in results)
    with_expected = [r for r in results if r.has_expected]
    trials = max((r.trial for r in results), default=0) + 1
    pass_k = None
    if trials > 1:
        by_case: dict[str, bool] = {}
        for r in with_expected:
            by_case[r.case] = by_case.get(r.case, True) and r.expected_pass
        pass_k = round(sum(by_case.values()) / len(by_case), 4) if by_case else None
    late = [o.lateness_days for o in orders if not o.kept and o.lateness_days > 0]
    latencies = [r.latency_ms for r in results]

    def share(count: int, total: int) -> float:
        return round(count / total, 4) if total else 0.0

    return Metrics(
        cases=len({r.case for r in results}),
        orders=len(orders),
        promise_kept_rate=share(sum(o.kept for o in orders), len(orders)),
        cost_per_order=round(sum(o.cost for o in orders) / len(orders), 2) if orders else 0.0,
        auto_resolution_rate=share(statuses["auto_resolved"], n_cases),
        pending_approval_rate=share(statuses["pending_approval"], n_cases),
        escalation_rate=share(statuses["escalated"], n_cases),
        expected_pass_rate=(
            share(sum(r.expected_pass for r in with_expected), len(with_expected))
            if with_expected
            else None
        ),
        pass_k=pass_k,
        trials=trials,
        guardrail_violations=sum(len(r.violations) for r in results),
        decision_latency_p50_ms=round(percentile(latencies, 0.5), 2),
        decision_latency_p99_ms=round(percentile(latencies, 0.99), 2),
        llm_tokens_per_decision=round(sum(r.tokens for r in results) / n_cases, 1)
        if n_cases
        else 0.0,
        mean_lateness_days_when_late=round(sum(late) / len(late), 2) if late else 0.0,
        failures=dict(sorted(Counter(o.failure for o in orders if o.failure).items())),
        errors=sum(1 for r in results if r.error),
    )


def compute(results: Sequence[CaseResult]) -> dict[str, PolicyMetrics]:
    """Metrics per policy (in the order the policies ran), overall and by family."""
    by_policy: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_policy[r.policy].append(r)
    out: dict[str, PolicyMetrics] = {}
    for policy, rs in by_policy.items():
        families: dict[str, list[CaseResult]] = defaultdict(list)
        for r in rs:
            families[r.family].append(r)
        out[policy] = PolicyMetrics(
            overall=_metrics(rs),
            by_family={f: _metrics(v) for f, v in sorted(families.items())},
        )
    oracle = out.get("oracle")
    if oracle is not None:
        for pm in out.values():
            _regret(pm.overall, oracle.overall)
            for family, m in pm.by_family.items():
                if family in oracle.by_family:
                    _regret(m, oracle.by_family[family])
    return out


def _regret(m: Metrics, oracle: Metrics) -> None:
    m.regret_promise_points = round(100 * (oracle.promise_kept_rate - m.promise_kept_rate), 2)
    m.regret_cost_per_order = round(m.cost_per_order - oracle.cost_per_order, 2)
