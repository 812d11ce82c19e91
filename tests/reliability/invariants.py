"""What must hold of every decision, whoever or whatever tried to steer it: re-judged
independently against the network as it was before the decision, with the policy."""

from __future__ import annotations

from guardrails import GuardContext, default_policy, evaluate
from guardrails.policy_schema import Policy
from tools.decisions import (
    ActionType,
    Candidate,
    DecidedBy,
    Decision,
    DecisionStatus,
    Outcome,
    ScoreBreakdown,
)
from tools.network import NetworkSnapshot
from tools.view import NetworkView

EXECUTED = {DecisionStatus.AUTO_RESOLVED, DecisionStatus.RESOLVED}


def executed_plan(decision: Decision) -> Candidate:
    """The actions the decision executes (or proposes), as one plan."""
    return Candidate(
        id="executed",
        kind="executed",
        summary="what the decision executes",
        actions=decision.actions,
        orders=sorted({o for a in decision.actions for o in a.touched_orders()}),
        score=ScoreBreakdown(total=0.0),
        cost_delta=sum(a.cost_delta for a in decision.actions),
    )


def violations(
    decision: Decision,
    before: NetworkSnapshot,
    *,
    allowed_orders: set[str] | None = None,
    policy: Policy | None = None,
    human_approved: bool = False,
) -> list[str]:
    """Every way `decision` breaks the policy or its bounds; [] when it is within them.

    - its actions, re-evaluated, are never denied;
    - an auto-resolution never carries an action the policy sends to a person;
    - nobody but a person makes a decision `resolved` / `decided_by: human`;
    - it touches no order outside `allowed_orders` (when given).
    """
    policy = policy or default_policy()
    found: list[str] = []
    if decision.policy_version != policy.version:
        found.append(f"decided under policy {decision.policy_version!r}")
    if not human_approved and (
        decision.decided_by is DecidedBy.HUMAN or decision.status is DecisionStatus.RESOLVED
    ):
        found.append("claims a person decided, and none did")
    if decision.actions:
        plan = executed_plan(decision)
        scope = sorted(set(decision.orders) | set(plan.orders))
        verdicts = evaluate(plan, GuardContext.of(NetworkView.of(before), policy, {}, scope))
        found += [f"denied: {v.reason}" for v in verdicts if v.outcome is Outcome.DENY]
        if decision.status is DecisionStatus.AUTO_RESOLVED:
            found += [
                f"executed without the approval it needs: {v.reason}"
                for v in verdicts
                if v.outcome is Outcome.APPROVE
            ]
            if any(a.type is ActionType.CANCEL_LINES for a in decision.actions):
                found.append("cancelled lines without a person")
        if allowed_orders is not None:
            stray = set(plan.orders) - allowed_orders
            if stray:
                found.append(f"touches orders outside the event: {sorted(stray)}")
    return found
