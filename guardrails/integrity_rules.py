"""Rules that hold whatever the policy says: a plan must be well-formed, stay within its own
orders and act only on orders that can still change. And the autonomy level."""

from __future__ import annotations

from guardrails.context import GuardContext
from guardrails.plan_facts import PlanFacts
from guardrails.policy_schema import Autonomy
from guardrails.verdicts import verdict
from guardrails.wording import plural
from tools.decisions import Candidate, Outcome, Verdict

PLAN_INTEGRITY = "plan_integrity"
ORDER_SCOPE = "order_scope"
ORDER_ACTIONABLE = "order_actionable"
AUTONOMY = "autonomy"


def plan_integrity(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    """Every id the plan names exists, every number is a number, every line is the order's."""
    if facts.integrity:
        return [
            verdict(
                PLAN_INTEGRITY,
                Outcome.DENY,
                f"{reason}: the plan cannot be trusted",
                plan.id,
                order,
            )
            for order, reason in facts.integrity
        ]
    return [
        verdict(
            PLAN_INTEGRITY,
            Outcome.ALLOW,
            f"{plural(len(plan.actions), 'action')} over "
            f"{plural(len(facts.touched_orders), 'order')}, every reference known",
            plan.id,
        )
    ]


def order_scope(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    """A plan acts only on the orders it lists (and that the exception concerns)."""
    if facts.out_of_scope:
        return [
            verdict(ORDER_SCOPE, Outcome.DENY, f"the plan {reason}", plan.id, order)
            for order, reason in facts.out_of_scope
        ]
    listed = ", ".join(facts.touched_orders) or "none"
    return [verdict(ORDER_SCOPE, Outcome.ALLOW, f"acts only on its own orders ({listed})", plan.id)]


def order_actionable(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    """Shipped, delivered and cancelled orders are history: no plan may change them."""
    if facts.not_actionable:
        return [
            verdict(ORDER_ACTIONABLE, Outcome.DENY, reason, plan.id, order)
            for order, reason in facts.not_actionable
        ]
    return [verdict(ORDER_ACTIONABLE, Outcome.ALLOW, "every order can still be changed", plan.id)]


def autonomy(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    """`recommend`: every plan that acts needs a person. `off`: nothing executes; escalate."""
    level = ctx.policy.autonomy
    if level is Autonomy.OFF:
        return [
            verdict(
                AUTONOMY,
                Outcome.DENY,
                "autonomy is off: every exception goes to a person",
                plan.id,
            )
        ]
    if level is Autonomy.RECOMMEND and facts.acts:
        return [
            verdict(
                AUTONOMY,
                Outcome.APPROVE,
                "autonomy is recommend: nothing executes without a person's approval",
                plan.id,
            )
        ]
    if level is Autonomy.RECOMMEND:
        return [
            verdict(AUTONOMY, Outcome.ALLOW, "autonomy is recommend; this plan only holds", plan.id)
        ]
    return [verdict(AUTONOMY, Outcome.ALLOW, "autonomy is auto: allowed plans execute", plan.id)]
