"""Perceive: gather the signals a decision needs, and understand free text if there is any.

Free text from partners and people is untrusted: with an LLM configured it may be *classified*
into a structured event whose every reference is checked against the network; it never
becomes an instruction. Without an LLM, an `unstructured` event goes to a person.
"""

from __future__ import annotations

import logging

from langgraph.runtime import Runtime

from agents.context import Perception, ResolverContext
from agents.precedents import describe_situation
from agents.state import LaneSignal, NodeSignal, PrecedentSignal, ResolverState, Signals
from tools.decisions import LlmUsage
from tools.events import EventType, ExceptionEvent
from tools.sourcing.situation import apply_event
from tools.view import NetworkView

log = logging.getLogger(__name__)

MAX_PRECEDENTS = 3


def read_network(
    ctx: ResolverContext, event: ExceptionEvent, orders: list[str] | None = None
) -> Perception:
    """The slice of the network the event touches (or these orders), with the event's facts
    applied."""
    store = ctx.store
    if orders is not None:
        view = store.view(orders)
    elif event.orders:
        view = ctx.reads.take((event.id, *event.orders)) or store.view(event.orders)
    else:
        in_reach = store.orders_in_scope(
            node=event.node, carrier=event.carrier, region=event.region, sku=event.sku
        )
        view = store.view(in_reach)
    applied, situation = apply_event(view, event)
    return Perception(applied, situation)


def perception_for(ctx: ResolverContext, state: ResolverState) -> Perception:
    """The perception of this run: cached in this process, or re-read (e.g. after a resume)."""
    event = state.get("working_event") or state["event"]
    cached = ctx.views.get(event.id)
    if cached is not None:
        return cached
    perception = read_network(ctx, event)
    ctx.views.put(event.id, perception)
    return perception


def collect_signals(view: NetworkView, orders: list[str], notes: list[str]) -> Signals:
    skus = sorted({line.sku for o in orders if o in view.orders for line in view.orders[o].lines})
    regions = sorted({view.orders[o].ship_to.region for o in orders if o in view.orders})
    nodes = [
        NodeSignal(
            node=n.id,
            kind=n.kind.value,
            status=n.status.value,
            utilization=round(n.utilization(), 4) if n.capacity_units_per_day else 0.0,
            backlog_units=n.backlog_units,
            capacity_units_per_day=n.capacity_units_per_day,
            inventory_accuracy=round(view.accuracy(n.id), 4),
            cutoff_hour_utc=n.cutoff_hour_utc,
            atp={s: view.atp(n.id, s) for s in skus if (n.id, s) in view.inventory},
        )
        for n in view.nodes.values()
    ]
    lanes = [
        LaneSignal(
            carrier=c.id,
            region=r,
            reliability=round(view.reliability(c.id, r), 4),
            disrupted=r in c.disrupted_regions,
        )
        for c in view.carriers.values()
        for r in regions
        if r in c.regions
    ]
    return Signals(affected_orders=list(orders), nodes=nodes, lanes=lanes, notes=list(notes))


def understand_text(
    ctx: ResolverContext, event: ExceptionEvent, usage: LlmUsage
) -> tuple[ExceptionEvent | None, str, LlmUsage]:
    """Turn an unstructured event into a structured one, or say why a person must read it."""
    if ctx.advisor is None:
        return None, "free-text exception and no LLM configured: a person must read it", usage
    from agents.advisor import ClassifyContext  # only with an LLM configured

    known = ClassifyContext.from_view(ctx.store.view(None), source=event.source)
    result = ctx.advisor.classify(event.text or "", known)
    usage = usage.plus(result.usage)
    if result.proposal is None:
        why = result.failure.kind.value if result.failure is not None else "; ".join(result.notes)
        return (
            None,
            f"free text could not be interpreted with confidence ({why or 'unclear'})",
            usage,
        )
    try:
        structured = result.proposal.to_event(event)
    except ValueError as exc:
        return None, f"interpreted text does not name anything actionable ({exc})", usage
    return structured, result.summary or f"read as {structured.type.value}", usage


def perceive(state: ResolverState, runtime: Runtime[ResolverContext]) -> ResolverState:
    ctx = runtime.context
    event = state["event"]
    usage = state.get("llm_usage") or LlmUsage()
    working = event
    text_summary: str | None = None
    if event.type is EventType.UNSTRUCTURED:
        structured, text_summary, usage = understand_text(ctx, event, usage)
        if structured is None:
            return {
                "llm_usage": usage,
                "signals": Signals(affected_orders=[], notes=[text_summary]),
                "route": "escalate",
                "escalation_reason": text_summary,
                "attempt": 1,
            }
        working = structured
    perception = read_network(ctx, working)
    ctx.views.put(event.id, perception)
    situation = perception.situation
    signals = collect_signals(perception.view, list(situation.affected_orders), situation.notes)
    if text_summary is not None:
        signals = signals.model_copy(
            update={"interpreted_from_text": True, "text_summary": text_summary}
        )
    if ctx.memory is not None:
        query = describe_situation(working, perception.view, situation.affected_orders)
        similar = ctx.memory.similar_or_empty(query, k=MAX_PRECEDENTS, exclude=event.id)
        signals = signals.model_copy(
            update={
                "precedents": [
                    PrecedentSignal(
                        exception_id=case.precedent.exception_id,
                        similarity=round(case.similarity, 4),
                        summary=case.precedent.text,
                    )
                    for case in similar
                ]
            }
        )
    return {
        "working_event": working,
        "signals": signals,
        "llm_usage": usage,
        "route": "decide",
        "attempt": 1,
    }
