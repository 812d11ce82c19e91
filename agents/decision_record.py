"""Assemble the contract's Decision from the graph state, and persist it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from agents.context import ResolverContext
from agents.state import ResolverState
from tools.decisions import (
    Action,
    Candidate,
    DecidedBy,
    Decision,
    DecisionStatus,
    LlmUsage,
)

# Statuses whose actions were (or, pending, would be) executed.
ACTING = frozenset(
    {DecisionStatus.AUTO_RESOLVED, DecisionStatus.RESOLVED, DecisionStatus.PENDING_APPROVAL}
)


def chosen_candidate(state: ResolverState) -> Candidate | None:
    chosen = state.get("chosen")
    return next((c for c in state.get("candidates") or [] if c.id == chosen), None)


def elapsed_ms(state: ResolverState) -> float:
    started = state.get("started_ns")
    if not started:
        return 0.0
    return round((time.time_ns() - started) / 1e6, 3)


def assemble_decision(
    ctx: ResolverContext, state: ResolverState, status: DecisionStatus, rationale: str | None = None
) -> Decision:
    event = state.get("working_event") or state["event"]
    chosen = chosen_candidate(state)
    actions: list[Action] = list(chosen.actions) if chosen and status in ACTING else []
    human = state.get("human")
    decided_by = state.get("decided_by") or DecidedBy.POLICY
    if human is not None and status in {DecisionStatus.RESOLVED, DecisionStatus.REJECTED}:
        decided_by = DecidedBy.HUMAN
    signals = state.get("signals")
    orders = list(signals.affected_orders) if signals is not None else list(event.orders)
    previous = state.get("decision")
    latency = elapsed_ms(state)
    if previous is not None and previous.status is DecisionStatus.PENDING_APPROVAL:
        latency = previous.latency_ms  # machine time to the first decision, not a person's
    return Decision(
        exception_id=event.id,
        status=status,
        actions=actions,
        candidates=list(state.get("candidates") or []),
        chosen=chosen.id if chosen else None,
        verdicts=list(state.get("verdicts") or []),
        approval=state.get("approval"),
        rationale=rationale if rationale is not None else state.get("rationale") or "",
        policy_version=ctx.policy.version,
        decided_by=decided_by,
        latency_ms=latency,
        event_type=event.type.value,
        orders=orders,
        llm_usage=state.get("llm_usage") or LlmUsage(),
        decided_at=ctx.clock(),
    )


def persist(
    ctx: ResolverContext,
    state: ResolverState,
    decision: Decision,
    messages: Sequence[tuple[str, dict[str, Any], str]] = (),
) -> None:
    """Save the decision as the exception's current state, append it to the audit log and
    queue its `messages` (kind, payload, key), in one transaction."""
    signals = state.get("signals")
    decision_json = decision.model_dump(mode="json")
    ctx.store.record_decision(
        decision.exception_id,
        decision,
        {
            "decision": decision_json,
            "signals": signals.model_dump(mode="json") if signals is not None else None,
            "event": state["event"].model_dump(mode="json"),
            "executions": [e.model_dump(mode="json") for e in state.get("executions") or []],
            "escalation_reason": state.get("escalation_reason"),
        },
        messages,
        decision_json=decision_json,
    )
