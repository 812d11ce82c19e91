"""Independent checks of a decision against the policy (not trusting the resolver's verdicts)."""

from __future__ import annotations

from guardrails import GuardContext, default_policy, denied, evaluate
from guardrails.policy_schema import Policy
from tools.decisions import Candidate, Decision, DecisionStatus, ScoreBreakdown
from tools.network import NetworkSnapshot
from tools.view import NetworkView

ACTED = {DecisionStatus.AUTO_RESOLVED, DecisionStatus.RESOLVED}


def assert_respects_policy(
    decision: Decision, before: NetworkSnapshot, policy: Policy | None = None
) -> None:
    """The executed (or proposed) actions, re-judged against the state before the decision
    with the policy: never a deny; and an auto-resolution never needed a person."""
    policy = policy or default_policy()
    if not decision.actions:
        return
    plan = Candidate(
        id="executed",
        kind="executed",
        summary="what the decision executes",
        actions=decision.actions,
        orders=decision.orders,
        score=ScoreBreakdown(total=0.0),
        cost_delta=sum(a.cost_delta for a in decision.actions),
    )
    chosen = next((c for c in decision.candidates if c.id == decision.chosen), None)
    if chosen is not None:
        plan = chosen
    verdicts = evaluate(plan, GuardContext.of(NetworkView.of(before), policy, {}, decision.orders))
    assert not denied(verdicts), [v.reason for v in verdicts if v.outcome.value == "deny"]
    assert decision.policy_version == policy.version
