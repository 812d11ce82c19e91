"""Read models for the API and the console, built from the store (sync: call via a thread)."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from agents.assistant.reads import BUSY_UTILIZATION, node_level
from agents.state import Execution, Signals
from api.schemas import (
    ApprovalItem,
    CarrierHealth,
    ExceptionDetail,
    ExceptionSummary,
    LaneHealth,
    NetworkHealth,
    NodeHealth,
)
from guardrails.policy import Policy
from tools.decisions import Decision
from tools.store import ApprovalRecord, ExceptionRecord, ExceptionStatus, NoNetwork, Store
from tools.store.schema import EXCEPTIONS

# A node at or above this utilisation (but under the policy's limit) is shown as busy.


def cost_delta(decision: Decision | None) -> float | None:
    if decision is None or not decision.actions:
        return None
    return round(sum(a.cost_delta for a in decision.actions), 2)


def chosen_summary(decision: Decision | None) -> str | None:
    if decision is None or decision.chosen is None:
        return None
    found = next((c for c in decision.candidates if c.id == decision.chosen), None)
    return found.summary if found is not None else None


def summarize(record: ExceptionRecord) -> ExceptionSummary:
    event, decision = record.event, record.decision
    scope = {
        k: v
        for k, v in (
            ("node", event.node),
            ("carrier", event.carrier),
            ("region", event.region),
            ("sku", event.sku),
        )
        if v
    }
    approval = decision.approval if decision is not None else None
    return ExceptionSummary(
        id=record.id,
        type=event.type.value,
        status=record.status,
        source=event.source,
        occurred_at=event.occurred_at,
        received_at=record.received_at,
        updated_at=record.updated_at,
        orders=list(decision.orders if decision is not None and decision.orders else event.orders),
        scope=scope,
        summary=chosen_summary(decision),
        cost_delta=cost_delta(decision),
        decided_by=decision.decided_by.value if decision is not None else None,
        approval_id=approval.id if approval is not None else None,
        approval_status=approval.status.value if approval is not None else None,
    )


def exception_detail(store: Store, exception_id: str) -> ExceptionDetail | None:
    record = store.get_exception(exception_id)
    if record is None:
        return None
    trail = store.audit_trail(exception_id)
    signals: Signals | None = None
    executions: list[Execution] = []
    escalation: str | None = None
    for entry in reversed(trail.decisions):  # the latest entry that carries each fact
        payload = entry.payload
        if signals is None and payload.get("signals"):
            signals = Signals.model_validate(payload["signals"])
        if not executions and payload.get("executions"):
            executions = [Execution.model_validate(e) for e in payload["executions"]]
        if escalation is None and payload.get("escalation_reason"):
            escalation = str(payload["escalation_reason"])
    return ExceptionDetail(
        exception_id=record.id,
        status=record.status,
        event=record.event,
        received_at=record.received_at,
        updated_at=record.updated_at,
        decision=record.decision,
        signals=signals,
        executions=executions,
        escalation_reason=escalation,
        approvals=store.list_approvals(exception_id=exception_id),
        audit=trail,
    )


def approval_item(store: Store, approval: ApprovalRecord) -> ApprovalItem:
    record = store.get_exception(approval.exception_id)
    decision = record.decision if record is not None else None
    return ApprovalItem(
        approval=approval,
        exception_type=record.event.type.value if record is not None else None,
        orders=list(decision.orders) if decision is not None else [],
        summary=chosen_summary(decision),
        cost_delta=cost_delta(decision),
        rationale=decision.rationale if decision is not None else None,
    )


def approval_items(store: Store, status: str | None) -> list[ApprovalItem]:
    return [approval_item(store, a) for a in store.list_approvals(status=status)]


def network_health(store: Store, policy: Policy) -> NetworkHealth:
    limit = policy.deny.max_node_utilization
    try:
        view = store.view([])
    except NoNetwork:
        return NetworkHealth(
            loaded=False, max_node_utilization=limit, busy_threshold=BUSY_UTILIZATION
        )
    nodes: list[NodeHealth] = []
    for node in view.nodes.values():
        raw = node.utilization()
        utilization = round(raw, 4) if math.isfinite(raw) else 999.0
        nodes.append(
            NodeHealth(
                id=node.id,
                kind=node.kind.value,
                region=node.region,
                status=node.status.value,
                capacity_units_per_day=node.capacity_units_per_day,
                backlog_units=node.backlog_units,
                utilization=utilization,
                inventory_accuracy=round(view.accuracy(node.id), 4),
                level=node_level(node.status.value, utilization, limit),
            )
        )
    nodes.sort(key=lambda n: (-n.utilization, n.id))
    carriers = [
        CarrierHealth(
            id=c.id,
            on_time_rate=c.on_time_rate,
            regions=list(c.regions),
            disrupted_regions=list(c.disrupted_regions),
            lanes=[
                LaneHealth(
                    region=r,
                    reliability=round(view.reliability(c.id, r), 4),
                    disrupted=r in c.disrupted_regions,
                )
                for r in c.regions
            ],
        )
        for c in sorted(view.carriers.values(), key=lambda c: c.id)
    ]
    return NetworkHealth(
        loaded=True,
        as_of=view.as_of,
        max_node_utilization=limit,
        busy_threshold=BUSY_UTILIZATION,
        nodes=nodes,
        carriers=carriers,
        overloaded_nodes=[n.id for n in nodes if n.level == "overloaded"],
        disrupted_carriers=[c.id for c in carriers if c.disrupted_regions],
        open_orders=len(store.orders_in_scope()),
    )


def status_counts(store: Store) -> dict[str, int]:
    """How many exceptions are in each status (all statuses listed, zeros included)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(EXCEPTIONS.c.status, func.count()).group_by(EXCEPTIONS.c.status)
        ).all()
    found = {str(status): int(count) for status, count in rows}
    counts = {s.value: found.get(s.value, 0) for s in ExceptionStatus}
    counts["all"] = sum(found.values())
    return counts


class TimelineEntry(BaseModel):
    """One line of a decision's audit trail, for people."""

    model_config = ConfigDict(extra="forbid")

    at: datetime
    kind: str  # decision | action | approval | outcome
    title: str
    detail: str = ""
    tone: str = "neutral"  # ok | warn | error | info | neutral


def timeline(detail: ExceptionDetail) -> list[TimelineEntry]:
    trail = detail.audit
    entries: list[TimelineEntry] = []
    for d in trail.decisions:
        decision = d.payload.get("decision") or {}
        status = str(decision.get("status", "recorded"))
        entries.append(
            TimelineEntry(
                at=d.recorded_at,
                kind="decision",
                title=f"Decision recorded: {status.replace('_', ' ')}",
                detail=str(d.payload.get("escalation_reason") or ""),
                tone=TONES.get(status, "neutral"),
            )
        )
    for a in trail.actions:
        text = str(a.detail.get("detail") or a.detail.get("error") or "")
        if a.status == "applied":
            text = f"{a.step} applied" + (f" at {', '.join(a.nodes)}" if a.nodes else "")
        entries.append(
            TimelineEntry(
                at=a.recorded_at,
                kind="action",
                title=f"{a.step} · {a.status}",
                detail=text,
                tone={"failed": "error", "compensated": "warn"}.get(a.status, "neutral"),
            )
        )
    for p in trail.approvals:
        comment = p.detail.get("comment")
        via = p.detail.get("channel")
        text = ", ".join(
            x for x in (f"via {via}" if via else "", f"“{comment}”" if comment else "") if x
        )
        if p.event == "requested":
            text = "; ".join(str(r) for r in p.detail.get("reasons") or [])
        elif p.event == "slack_posted":
            text = f"channel {p.detail.get('channel')}"
        entries.append(
            TimelineEntry(
                at=p.recorded_at,
                kind="approval",
                title=f"Approval {p.event.replace('_', ' ')}"
                + (f" by {p.actor}" if p.actor and p.event != "slack_posted" else ""),
                detail=text,
                tone={"approved": "ok", "rejected": "error", "requested": "warn"}.get(
                    p.event, "info"
                ),
            )
        )
    for o in trail.outcomes:
        facts = ", ".join(
            f"{k.replace('_', ' ')} {v}"
            for k, v in o.payload.items()
            if v is not None and k not in ("order", "exception_id", "note")
        )
        entries.append(
            TimelineEntry(
                at=o.recorded_at,
                kind="outcome",
                title=f"Outcome for {o.order_id}",
                detail=facts,
                tone="info",
            )
        )
    entries.sort(key=lambda e: e.at)
    return entries


TONES = {
    "auto_resolved": "ok",
    "resolved": "ok",
    "pending_approval": "warn",
    "escalated": "info",
    "rejected": "error",
    "failed": "error",
}
