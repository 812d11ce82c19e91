"""Act: re-check the plan against fresh state, then execute it; on failure decide once more.

State may have moved since the decision (a person may have taken an hour to approve): the
plan is evaluated again against a fresh read of the network before anything is touched. If
it is now denied, the resolver decides again (once); if it now needs approval nobody gave, it
goes to a person. The re-check happens once per attempt: after a crash mid-execution the
resumed run finds the attempt's marker (written with the attempt's first store writes, see
`execute`) and continues with the same keys instead of judging its own half-made
reservations.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from agents.context import ResolverContext
from agents.decide import guard_context
from agents.decision_record import chosen_candidate
from agents.execution import commit_key, execute
from agents.perceive import read_network
from agents.state import ResolverState
from guardrails.evaluator import denied, evaluate, needs_approval
from tools.decisions import DecisionStatus

MAX_ATTEMPTS = 2


def act(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    ctx = runtime.context
    event = state.get("working_event") or state["event"]
    attempt = state.get("attempt") or 1
    chosen = chosen_candidate(state)
    if chosen is None:
        return {"route": "escalate", "escalation_reason": "no plan was chosen"}
    fresh = read_network(ctx, event, list(chosen.orders))
    begun = f"{event.id}:{attempt}:act"
    marks = ctx.store.marked_many([begun, commit_key(event.id, attempt)])
    if begun not in marks:
        scope = list(state["signals"].affected_orders) if state.get("signals") else None
        verdicts = evaluate(chosen, guard_context(ctx, fresh.view, scope))
        if denied(verdicts):
            reason = "; ".join(v.reason for v in verdicts if v.outcome.value == "deny")
            return retry_or_escalate(
                ctx, state, attempt, f"state moved and the plan is now denied ({reason})"
            )
        if needs_approval(verdicts) and state.get("human") is None:
            return {"verdicts": verdicts, "route": "approve"}
    execution = execute(
        ctx.store,
        ctx.carrier,
        fresh.view,
        event.id,
        attempt,
        chosen,
        release_at=event.occurred_at,
        autonomous=state.get("human") is None,
        marks=marks,
        begin=None if begun in marks else (begun, {"candidate": chosen.id}),
    )
    executions = [*(state.get("executions") or []), execution]
    if execution.succeeded:
        human = state.get("human")
        status = DecisionStatus.RESOLVED if human is not None else DecisionStatus.AUTO_RESOLVED
        return {"executions": executions, "status": status, "route": "learn"}
    avoid = sorted({*(state.get("avoid_services") or []), *execution.unbookable_services})
    update = retry_or_escalate(
        ctx, state, attempt, f"execution failed and was rolled back ({execution.failure})"
    )
    return {**update, "executions": executions, "avoid_services": avoid}


def retry_or_escalate(
    ctx: ResolverContext, state: ResolverState, attempt: int, why: str
) -> ResolverState:
    event = state.get("working_event") or state["event"]
    ctx.views.drop(event.id)  # the next decision must see the world as it is now
    if attempt < MAX_ATTEMPTS:
        return {
            "route": "decide",
            "attempt": attempt + 1,
            "human": None,
            "approval": None,
            "escalation_reason": why,
        }
    return {"route": "escalate", "escalation_reason": f"{why}; already retried once"}
