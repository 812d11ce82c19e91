"""Approval: ask a person, wait (durably) for the answer, and the terminal non-acting paths.

`request_approval` has the side effects (the approval record, the pending decision, the
notification in the outbox); all are idempotent by key, so re-running the node after a crash
repeats nothing. `approve` only calls `interrupt()`: LangGraph re-runs a node from the top on
resume, so the node that waits must not have side effects before the interrupt.
"""

from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.context import ResolverContext
from agents.decision_record import assemble_decision, persist
from agents.state import HumanDecision, ResolverState
from guardrails.explain import reasons_needing_attention
from tools.decisions import Approval, ApprovalStatus, DecisionStatus


def approval_id(exception_id: str, attempt: int) -> str:
    return f"AP-{exception_id}" if attempt <= 1 else f"AP-{exception_id}-{attempt}"


def request_approval(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    ctx = runtime.context
    event = state["event"]
    attempt = state.get("attempt") or 1
    approval = Approval(
        id=approval_id(event.id, attempt),
        reasons=reasons_needing_attention(state.get("verdicts") or []),
        status=ApprovalStatus.PENDING,
        requested_at=ctx.clock(),
    )
    record, created = ctx.store.create_approval(approval, event.id)
    stored = record.to_approval()
    pending_state: ResolverState = {**state, "approval": stored}
    decision = assemble_decision(ctx, pending_state, DecisionStatus.PENDING_APPROVAL)
    if created:  # before the decision is filed: a re-run after a failure finds it created
        ctx.store.append_approval_log(
            stored.id, event.id, "requested", "execlayer", {"reasons": stored.reasons}
        )
    payload = {"decision": decision.model_dump(mode="json")}
    # The pending decision, its audit row and the request to people: all or nothing.
    persist(
        ctx,
        pending_state,
        decision,
        [("approval_requested", payload, f"approval-requested:{stored.id}")],
    )
    if ctx.announce is not None:
        ctx.announce("approval_requested", payload)
    return {"approval": stored, "decision": decision, "status": DecisionStatus.PENDING_APPROVAL}


def approve(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    approval = state["approval"]
    assert approval is not None
    answer = interrupt(
        {
            "approval_id": approval.id,
            "exception_id": state["event"].id,
            "reasons": approval.reasons,
        }
    )
    human = HumanDecision.model_validate(answer)
    approved = human.decision == "approve"
    decided = approval.model_copy(
        update={
            "status": ApprovalStatus.APPROVED if approved else ApprovalStatus.REJECTED,
            "decided_at": human.decided_at or runtime.context.clock(),
            "decided_by": human.actor,
            "channel": human.channel,
            "comment": human.comment or None,
        }
    )
    return {"human": human, "approval": decided, "route": "act" if approved else "reject"}


def reject(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    human = state.get("human")
    who = human.actor if human is not None else "a person"
    comment = f": {human.comment}" if human is not None and human.comment else ""
    return {
        "status": DecisionStatus.REJECTED,
        "rationale": f"Rejected by {who}{comment}. Nothing was executed. "
        + (state.get("rationale") or ""),
    }


def escalate(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    ctx = runtime.context
    reason = state.get("escalation_reason") or "needs a person"
    event = state["event"]
    ctx.store.enqueue_outbox(
        "escalation",
        {"exception_id": event.id, "reason": reason, "event": event.model_dump(mode="json")},
        key=f"escalation:{event.id}",
    )
    if ctx.announce is not None:
        ctx.announce("escalation", {"exception_id": event.id, "reason": reason})
    return {
        "status": DecisionStatus.ESCALATED,
        "rationale": f"Escalated to a person: {reason}.",
    }
