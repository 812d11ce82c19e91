"""The pure evaluator: `evaluate(plan, context) -> verdicts`.

Every rule gives at least one verdict (per order or per node where the rule is), `allow`
verdicts included, so a person sees every rule that was checked with its numbers. The
strictest outcome wins: `deny` > `approve` > `allow`. Deterministic (same plan and context,
same verdicts in the same order), free of I/O, and fail-closed: a plan the evaluator cannot
read is denied, never executed.
"""

from __future__ import annotations

from collections.abc import Callable

from guardrails import approval_rules, deny_rules, integrity_rules
from guardrails.context import GuardContext
from guardrails.plan_facts import PlanFacts, derive
from guardrails.verdicts import (
    by_strictness,
    denied,
    is_executable,
    may_execute_autonomously,
    needs_approval,
    strictest,
    verdict,
)
from tools.decisions import Candidate, Outcome, Verdict

__all__ = [
    "RULES",
    "GuardContext",
    "Rule",
    "by_strictness",
    "denied",
    "evaluate",
    "evaluate_all",
    "is_executable",
    "may_execute_autonomously",
    "needs_approval",
    "strictest",
]

Rule = Callable[[Candidate, PlanFacts, GuardContext], list[Verdict]]

EVALUATION_ERROR = "evaluation_error"

# In the order their verdicts are listed.
RULES: tuple[Rule, ...] = (
    integrity_rules.plan_integrity,
    integrity_rules.order_scope,
    integrity_rules.order_actionable,
    integrity_rules.autonomy,
    deny_rules.closed_nodes,
    deny_rules.node_serves_channel,
    deny_rules.b2b_to_marketplace_seller,
    deny_rules.hazmat_by_air,
    deny_rules.carrier_lists,
    deny_rules.max_split_nodes,
    deny_rules.max_node_utilization,
    deny_rules.no_oversell,
    deny_rules.respect_safety_stock,
    approval_rules.always,
    approval_rules.tiers,
    approval_rules.cost_per_order,
    approval_rules.cost_pct_of_order,
    approval_rules.cost_per_decision,
    approval_rules.repromise_days,
    approval_rules.orders_per_decision,
    approval_rules.min_on_time,
    approval_rules.rate_limit,
)


def evaluate(plan: Candidate, context: GuardContext) -> list[Verdict]:
    """Every rule's verdicts on `plan` against `context` (see the module docstring)."""
    try:
        facts = derive(plan, context.view, context.scope_orders)
        verdicts: list[Verdict] = []
        for rule in RULES:
            verdicts.extend(rule(plan, facts, context))
    except Exception as exc:  # fail closed: a plan we cannot read never executes
        return [
            verdict(
                EVALUATION_ERROR,
                Outcome.DENY,
                f"the guardrails could not evaluate this plan ({type(exc).__name__}: {exc})",
                getattr(plan, "id", None),
            )
        ]
    return verdicts


def evaluate_all(plans: list[Candidate], context: GuardContext) -> dict[str, list[Verdict]]:
    """`evaluate` for each plan, keyed by candidate id."""
    return {plan.id: evaluate(plan, context) for plan in plans}
