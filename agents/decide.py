"""Decide: candidates and scores from the sourcing tools; optionally an LLM picks among them.

One affected order: every feasible resolution for it, scored. Several orders or a scoped
event: the batch optimizer plans them together under node capacity and inventory. Every
candidate is checked by the guardrails here, so the deterministic choice and the LLM only
ever see plans the policy does not deny. The LLM may pick one of the top few by id and write
the rationale; anything else it says is ignored, and a bad, slow or failing answer falls back
to the deterministic choice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta

from langgraph.runtime import Runtime

from agents.context import ResolverContext
from agents.perceive import perception_for
from agents.precedents import describe_situation
from agents.rationale import deterministic_rationale
from agents.state import ResolverState
from guardrails.evaluator import GuardContext, denied, evaluate, needs_approval
from tools.decisions import Candidate, DecidedBy, LlmUsage, Outcome
from tools.sourcing.batch import plan_batch
from tools.sourcing.candidates import pending_candidates
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.pending import PendingCandidate
from tools.view import NetworkView

# How many guardrail-passing candidates the LLM may choose among.
LLM_CHOICES = 5
# Prefer a plan that can run without a person unless one that needs approval is cheaper by
# more than this much expected cost (a person's delay has a cost too).
AUTONOMY_PREFERENCE = 10.0
BATCH_TIME_LIMIT_S = 5.0
# Plans judged and kept per decision (enough to show the alternatives, bounded for speed).
KEEP_CANDIDATES = 8
MAX_JUDGED = 64
# The rate limit on autonomous actions counts this far back.
RATE_WINDOW = timedelta(hours=1)


def limits_of(ctx: ResolverContext) -> SourcingLimits:
    return ctx.policy.sourcing_limits()


def guard_context(
    ctx: ResolverContext, view: NetworkView, scope_orders: list[str] | None = None
) -> GuardContext:
    """What the guardrails judge against; a plan touching orders outside scope is denied."""
    since = ctx.clock() - RATE_WINDOW
    return GuardContext.of(
        view, ctx.policy, ctx.store.recent_actions_by_node(since), scope_orders=scope_orders
    )


def build_candidates(ctx: ResolverContext, state: ResolverState) -> list[PendingCandidate]:
    """The candidates to judge, each built only if `judge` reaches it."""
    perception = perception_for(ctx, state)
    situation = perception.situation
    avoid = frozenset(state.get("avoid_services") or ())
    if avoid:
        situation = dataclasses.replace(
            situation, unbookable_services=situation.unbookable_services | avoid
        )
    orders = list(situation.affected_orders)
    event = state.get("working_event") or state["event"]
    priorities = ctx.policy.priorities
    limits = limits_of(ctx)
    if len(orders) == 1 and not event.is_scoped:
        return pending_candidates(perception.view, situation, orders[0], priorities, limits)
    plan = plan_batch(
        perception.view, situation, priorities, limits, time_limit_s=BATCH_TIME_LIMIT_S
    )
    return [PendingCandidate.of(plan.to_candidate())]


def judge(
    candidates: Sequence[Candidate | PendingCandidate], guard: GuardContext
) -> tuple[list[Candidate], list[Candidate]]:
    """Guardrail verdicts for the best candidates, cheapest first: (judged, allowed).

    Stops once it holds `KEEP_CANDIDATES` allowed plans and nothing further down could still
    be chosen (an autonomous plan is found, or the rest cost more than the autonomy
    preference allows), so a decision never pays for judging plans nobody would pick.
    A `PendingCandidate` is built only when it is judged."""
    judged: list[Candidate] = []
    allowed: list[Candidate] = []
    autonomous = False
    pending = [c if isinstance(c, PendingCandidate) else PendingCandidate.of(c) for c in candidates]
    for next_one in sorted(pending, key=lambda c: (c.total, c.id)):
        if len(judged) >= MAX_JUDGED:
            break
        if len(allowed) >= KEEP_CANDIDATES and (
            autonomous or next_one.total > allowed[0].score.total + AUTONOMY_PREFERENCE
        ):
            break
        candidate = next_one.make()
        verdicts = evaluate(candidate, guard)
        judged_one = candidate.model_copy(update={"verdicts": verdicts})
        judged.append(judged_one)
        if not denied(verdicts):
            allowed.append(judged_one)
            autonomous = autonomous or not needs_approval(verdicts)
    return judged, allowed


def trimmed(candidate: Candidate) -> Candidate:
    """A candidate that was not chosen keeps only the verdicts that stopped or held it."""
    return candidate.model_copy(
        update={"verdicts": [v for v in candidate.verdicts if v.outcome is not Outcome.ALLOW]}
    )


def deterministic_choice(allowed: list[Candidate]) -> Candidate:
    """Best expected cost, preferring plans that need no person unless that costs too much."""
    best = allowed[0]
    autonomous = next((c for c in allowed if not needs_approval(c.verdicts)), None)
    if autonomous is not None and autonomous.score.total <= best.score.total + AUTONOMY_PREFERENCE:
        return autonomous
    return best


def decide(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    ctx = runtime.context
    event = state.get("working_event") or state["event"]
    perception = perception_for(ctx, state)
    orders = list(perception.situation.affected_orders)
    if not orders:
        return {
            "candidates": [],
            "chosen": None,
            "decided_by": DecidedBy.POLICY,
            "rationale": "No open order is in this event's reach: nothing to do.",
            "verdicts": [],
            "route": "done",
        }
    guard = guard_context(ctx, perception.view, orders)
    ctx.guards.put((event.id, *orders), guard)  # guard judges the choice on the same facts
    candidates, allowed = judge(build_candidates(ctx, state), guard)
    if not allowed:
        return {
            "candidates": candidates,
            "chosen": None,
            "decided_by": DecidedBy.POLICY,
            "verdicts": [],
            "route": "escalate",
            "escalation_reason": "every candidate resolution is denied by the operating policy",
        }
    fallback = deterministic_choice(allowed)
    chosen, decided_by = fallback, DecidedBy.POLICY
    rationale = deterministic_rationale(event, orders, fallback, allowed, fallback.verdicts)
    usage = state.get("llm_usage") or LlmUsage()
    if ctx.advisor is not None and len(allowed) > 1:
        shortlist = allowed[:LLM_CHOICES]
        if fallback not in shortlist:
            shortlist = [*shortlist[:-1], fallback]
        from agents.advisor import AdvisorContext  # only with an LLM configured

        signals = state.get("signals")
        advice = ctx.advisor.choose(
            event,
            shortlist,
            AdvisorContext(
                deterministic_choice=fallback.id,
                situation=describe_situation(event, perception.view, orders),
                precedents=[p.summary for p in signals.precedents] if signals else [],
                notes=list(perception.situation.notes),
                policy_version=ctx.policy.version,
            ),
        )
        usage = usage.plus(advice.usage)
        picked = next((c for c in shortlist if c.id == advice.choice), None)
        if picked is not None and advice.rationale.strip():
            chosen, decided_by = picked, DecidedBy.LLM
            rationale = advice.rationale.strip()
    return {
        "candidates": [c if c.id == chosen.id else trimmed(c) for c in candidates],
        "chosen": chosen.id,
        "decided_by": decided_by,
        "rationale": rationale,
        "verdicts": chosen.verdicts,
        "llm_usage": usage,
        "route": "guard",
    }
