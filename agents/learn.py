"""Learn: record the decision, and keep the case as a precedent for the next similar one.

Outcomes (what really happened: picks, deliveries) arrive later through
`Resolver.record_outcome`, which updates carrier reliability and node accuracy; this step
files the decision itself: the current state, the append-only audit log, the digest outbox and
precedent memory. Memory being down never fails a decision.
"""

from __future__ import annotations

import logging

from langgraph.runtime import Runtime

from agents.context import ResolverContext
from agents.decision_record import assemble_decision, persist
from agents.precedents import MemoryUnavailable, Precedent, describe_situation
from agents.state import ResolverState
from tools.decisions import Decision, DecisionStatus

log = logging.getLogger(__name__)


def precedent_of(ctx: ResolverContext, state: ResolverState, decision: Decision) -> Precedent:
    event = state.get("working_event") or state["event"]
    perception = ctx.views.get(state["event"].id)
    view = perception.view if perception is not None else ctx.store.view(decision.orders)
    text = describe_situation(event, view, decision.orders)
    return Precedent.from_decision(decision, event, text)


def learn(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    ctx = runtime.context
    status = state.get("status") or DecisionStatus.AUTO_RESOLVED
    decision = assemble_decision(ctx, state, status)
    messages = []
    if status is DecisionStatus.AUTO_RESOLVED and decision.actions:
        messages.append(
            (
                "auto_resolved",
                {"exception_id": decision.exception_id, "rationale": decision.rationale},
                f"auto-resolved:{decision.exception_id}",
            )
        )
    persist(ctx, state, decision, messages)
    if ctx.memory is not None:
        try:
            ctx.memory.remember(precedent_of(ctx, state, decision))
        except MemoryUnavailable as exc:
            log.warning(
                "precedent memory unavailable; decision %s not remembered: %s",
                decision.exception_id,
                exc,
            )
    ctx.views.drop(state["event"].id)
    return {"decision": decision, "status": status}
