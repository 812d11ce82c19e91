"""The `approval` rules and the rate limit: above these, a person must approve."""

from __future__ import annotations

from math import isfinite

from guardrails.context import GuardContext
from guardrails.plan_facts import PlanFacts
from guardrails.verdicts import verdict
from guardrails.wording import days, money, percent, plural, signed_money
from tools.decisions import Candidate, Outcome, Verdict

COST_PER_ORDER = "max_cost_increase_per_order"
COST_PCT_OF_ORDER = "max_cost_increase_pct_of_order"
COST_PER_DECISION = "max_cost_increase_per_decision"
REPROMISE_DAYS = "max_repromise_days"
ORDERS_PER_DECISION = "max_orders_per_decision"
ALWAYS = "always"
ON_TIME = "min_on_time_probability"
TIERS = "tiers"
RATE_LIMIT = "rate_limit"


def _over(value: float, limit: float) -> Outcome:
    return Outcome.APPROVE if value > limit else Outcome.ALLOW


def cost_per_order(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.approval.max_cost_increase_per_order
    if not facts.cost_by_order:
        return [verdict(COST_PER_ORDER, Outcome.ALLOW, "no order's cost changes", plan.id)]
    out = []
    for order_id, cost in facts.cost_by_order.items():
        over = cost > limit
        out.append(
            verdict(
                COST_PER_ORDER,
                _over(cost, limit),
                f"cost {signed_money(cost)} {'exceeds' if over else 'within'} "
                f"{money(limit)} per order ({order_id})",
                plan.id,
                order_id,
                cost,
                limit,
            )
        )
    return out


def cost_pct_of_order(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.approval.max_cost_increase_pct_of_order
    if not facts.cost_by_order:
        return [verdict(COST_PCT_OF_ORDER, Outcome.ALLOW, "no order's cost changes", plan.id)]
    out = []
    for order_id, cost in facts.cost_by_order.items():
        value = facts.orders[order_id].value
        # An order worth nothing: any increase is unbounded, none is 0 %.
        unbounded = float("inf") if cost > 0 else 0.0
        share = cost / value if value > 0 else unbounded
        over = share > limit
        out.append(
            verdict(
                COST_PCT_OF_ORDER,
                _over(share, limit),
                f"cost {signed_money(cost)} is {percent(share)} of {order_id}'s "
                f"{money(value)} value, {'above' if over else 'within'} the "
                f"{percent(limit)} limit",
                plan.id,
                order_id,
                share,
                limit,
            )
        )
    return out


def cost_per_decision(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.approval.max_cost_increase_per_decision
    if limit is None:
        return []
    total = facts.plan_cost
    if isfinite(plan.cost_delta):
        total = max(total, plan.cost_delta)
    over = total > limit
    return [
        verdict(
            COST_PER_DECISION,
            _over(total, limit),
            f"plan cost {signed_money(total)} {'exceeds' if over else 'within'} "
            f"{money(limit)} per decision",
            plan.id,
            value=total,
            limit=limit,
        )
    ]


def repromise_days(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.approval.max_repromise_days
    if not facts.promise_changes:
        return [verdict(REPROMISE_DAYS, Outcome.ALLOW, "no promise moves", plan.id)]
    out = []
    for change in facts.promise_changes:
        kind = change.action_type.value
        if not isfinite(change.days_later):
            out.append(
                verdict(
                    REPROMISE_DAYS,
                    Outcome.APPROVE,
                    f"{kind} of {change.order} sets no new promise date "
                    f"(limit {days(limit)} later)",
                    plan.id,
                    change.order,
                    limit=limit,
                )
            )
            continue
        over = change.days_later > limit
        if change.days_later <= 0:
            moved = (
                f"keeps or advances {change.order}'s promise ({days(-change.days_later)} earlier)"
            )
        else:
            moved = f"moves {change.order}'s promise {days(change.days_later)} later"
        out.append(
            verdict(
                REPROMISE_DAYS,
                _over(change.days_later, limit),
                f"{kind} {moved}, {'more than' if over else 'within'} the {days(limit)} limit",
                plan.id,
                change.order,
                change.days_later,
                limit,
            )
        )
    return out


def orders_per_decision(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.approval.max_orders_per_decision
    count = len(facts.touched_orders)
    over = count > limit
    return [
        verdict(
            ORDERS_PER_DECISION,
            _over(count, limit),
            f"touches {plural(count, 'order')}, {'more than' if over else 'within'} the "
            f"blast-radius limit of {limit}",
            plan.id,
            value=float(count),
            limit=float(limit),
        )
    ]


def always(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    listed = ctx.policy.approval.always
    hits = [t for t in listed if t in facts.action_types]
    if not hits:
        names = ", ".join(t.value for t in listed) or "none listed"
        return [
            verdict(
                ALWAYS, Outcome.ALLOW, f"no action that always needs a person ({names})", plan.id
            )
        ]
    out = []
    for action_type in hits:
        orders = sorted(
            {o for a in plan.actions if a.type is action_type for o in a.touched_orders()}
        )
        out.append(
            verdict(
                ALWAYS,
                Outcome.APPROVE,
                f"{action_type.value} always needs a person ({', '.join(orders)})",
                plan.id,
                orders[0] if len(orders) == 1 else None,
            )
        )
    return out


def min_on_time(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.approval.min_on_time_probability
    if limit is None:
        return []
    p = plan.on_time_probability
    if p is None or not isfinite(p):
        if not facts.shipments:
            return [verdict(ON_TIME, Outcome.ALLOW, "the plan ships nothing to predict", plan.id)]
        return [
            verdict(
                ON_TIME,
                Outcome.APPROVE,
                f"no on-time prediction for a plan that ships (limit {percent(limit, 0)})",
                plan.id,
                limit=limit,
            )
        ]
    low = p < limit
    return [
        verdict(
            ON_TIME,
            Outcome.APPROVE if low else Outcome.ALLOW,
            f"{percent(p, 0)} likely on time, {'below' if low else 'at or above'} the "
            f"{percent(limit, 0)} minimum",
            plan.id,
            value=p,
            limit=limit,
        )
    ]


def tiers(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    listed = ctx.policy.approval.tiers
    if not listed:
        return []
    hits = [
        (order_id, facts.orders[order_id].customer_tier)
        for order_id in sorted(facts.acting_orders)
        if order_id in facts.orders and facts.orders[order_id].customer_tier in listed
    ]
    if not hits:
        names = ", ".join(t.value for t in listed)
        return [verdict(TIERS, Outcome.ALLOW, f"changes no {names} customer's order", plan.id)]
    return [
        verdict(
            TIERS,
            Outcome.APPROVE,
            f"{order_id} belongs to a {tier.value} customer: changes need a person",
            plan.id,
            order_id,
        )
        for order_id, tier in hits
    ]


def rate_limit(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.rate_limit.max_autonomous_actions_per_node_per_hour
    if limit is None:
        return []
    if not facts.actions_by_node:
        return [verdict(RATE_LIMIT, Outcome.ALLOW, "the plan sends no action to any node", plan.id)]
    out = []
    for node_id, count in facts.actions_by_node.items():
        recent = max(0, int(ctx.recent_autonomous_actions_by_node.get(node_id, 0)))
        total = recent + count
        over = total > limit
        out.append(
            verdict(
                RATE_LIMIT,
                _over(total, limit),
                f"{node_id} would receive {plural(total, 'autonomous action')} in an hour "
                f"({recent} recent + {count} now), {'over' if over else 'within'} the "
                f"limit of {limit}",
                plan.id,
                value=float(total),
                limit=float(limit),
            )
        )
    return out
