"""Guard: the chosen plan against the operating policy; a denied plan falls through.

Decide already filtered denied candidates, so here a deny means the choice came from
somewhere it should not have (a hostile LLM answer, a bug): the best allowed candidate is
taken instead, and if none is allowed the exception goes to a person.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.context import ResolverContext
from agents.decide import guard_context
from agents.perceive import perception_for
from agents.rationale import deterministic_rationale
from agents.state import ResolverState
from guardrails.evaluator import denied, evaluate, needs_approval
from tools.decisions import DecidedBy


def guard(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    ctx = runtime.context
    perception = perception_for(ctx, state)
    event = state.get("working_event") or state["event"]
    orders = list(perception.situation.affected_orders)
    context = ctx.guards.take((event.id, *orders)) or guard_context(ctx, perception.view, orders)
    candidates = state.get("candidates") or []
    chosen = next((c for c in candidates if c.id == state.get("chosen")), None)
    verdicts = evaluate(chosen, context) if chosen is not None else []
    update: ResolverState = {}
    if chosen is None or denied(verdicts):
        refused = chosen.id if chosen is not None else state.get("chosen")
        for candidate in sorted(candidates, key=lambda c: (c.score.total, c.id)):
            fresh = evaluate(candidate, context)
            if not denied(fresh):
                chosen, verdicts = candidate, fresh
                update = {
                    "chosen": candidate.id,
                    "decided_by": DecidedBy.POLICY,
                    "rationale": f"The first choice ({refused}) was denied by the policy. "
                    + deterministic_rationale(
                        event, list(candidate.orders), candidate, candidates, fresh
                    ),
                }
                break
        else:
            return {
                "verdicts": verdicts,
                "route": "escalate",
                "escalation_reason": "no candidate resolution is allowed by the operating policy",
            }
    assert chosen is not None
    route = "approve" if needs_approval(verdicts) else "act"
    return {**update, "verdicts": verdicts, "route": route}
