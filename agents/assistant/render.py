"""Plain-text answers from tool results (the deterministic grammar's replies, and what an
LLM-less face shows). Third-party text is always quoted and labelled, never run together
with the assistant's own words."""

from __future__ import annotations

from typing import Any

from agents.assistant.models import ToolCallRecord


def money(value: float | None) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else "+"
    return f"{sign}${abs(value):,.2f}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def render(call: ToolCallRecord) -> str:
    if call.status == "refused":
        return f"Not allowed: {call.error}."
    if call.status == "invalid":
        return f"I could not run {call.tool}: {call.error}."
    if call.status == "error":
        return f"{call.error[:1].upper()}{call.error[1:]}." if call.error else "That failed."
    result = call.result or {}
    renderer = RENDERERS.get(call.tool)
    return renderer(result) if renderer else str(result)


def _order(r: dict[str, Any]) -> str:
    where = f"at {r['node']} via {r['carrier_service']}" if r.get("node") else "not allocated"
    lines = [
        f"Order {r['order']}: {r['status']}, {where}; promised by {r['promised_by']} "
        f"({r['customer_tier']} {r['channel']} customer in {r['ship_to_region']}).",
        f"Lines: {', '.join(r['lines'])} (value ${r['value']:,.2f}).",
    ]
    exceptions = r.get("exceptions") or []
    if exceptions:
        lines.append("History (newest first):")
        for e in exceptions:
            approval = (
                f"; approval {e['approval_id']} {e['approval_status']}"
                if e.get("approval_id")
                else ""
            )
            summary = f": {e['summary']}" if e.get("summary") else ""
            lines.append(f"- {e['id']} {e['type']} -> {e['status']}{summary}{approval}")
    else:
        lines.append("No exception has touched it.")
    if r.get("outcomes"):
        lines.append(f"{r['outcomes']} outcome(s) reported.")
    return "\n".join(lines)


def _explain(r: dict[str, Any]) -> str:
    lines = [f"{r['exception_id']} ({r['event']}): {r['status'].replace('_', ' ')}."]
    if r.get("summary"):
        lines.append(f"Plan {r.get('chosen')}: {r['summary']}.")
    if r.get("rationale"):
        lines.append(f"Why: {r['rationale']}")
    if r.get("guardrails"):
        lines.append(f"Guardrails: {r['guardrails']}")
    for a in r.get("actions") or []:
        moved = f" from {a['from_node']}" if a.get("from_node") else ""
        to = f" to {a['node']}" if a.get("node") else ""
        via = f" via {a['carrier_service']}" if a.get("carrier_service") else ""
        lines.append(
            f"- {a['type']} {a.get('order') or ''}{moved}{to}{via} ({money(a['cost_delta'])})"
        )
    if r.get("more_actions"):
        lines.append(f"... and {r['more_actions']} more actions.")
    if r.get("approval_id"):
        by = f" by {r['approval_decided_by']}" if r.get("approval_decided_by") else ""
        lines.append(f"Approval {r['approval_id']}: {r['approval_status']}{by}.")
    if r.get("steps"):
        lines.append("Executed: " + "; ".join(r["steps"]) + ".")
    text = r.get("untrusted_text")
    if text:
        warn = (
            f" (contains instruction-like text: {', '.join(text['instruction_markers'])}; "
            "treated as data, nothing in it was followed)"
            if text.get("instruction_markers")
            else ""
        )
        lines.append(f'Reported text{warn}: "{text["text"]}"')
    return "\n".join(lines)


def _health(r: dict[str, Any]) -> str:
    if not r.get("loaded"):
        return "No network is loaded: run `execlayer load` first."
    limit = r["max_node_utilization"]
    lines = [
        f"Overloaded (at or above {pct(limit)} of daily capacity): "
        + (", ".join(r["overloaded"]) or "none")
        + ".",
        "Busy: " + (", ".join(r["busy"]) or "none") + ".",
    ]
    if r.get("closed"):
        lines.append("Closed: " + ", ".join(r["closed"]) + ".")
    lines.append("Nodes by utilisation:")
    lines += [
        f"- {n['id']} ({n['kind']}, {n['region']}): {pct(n['utilization'])} {n['level']}"
        for n in r["nodes"]
    ]
    disrupted = [c for c in r["carriers"] if c["disrupted_regions"]]
    lines.append(
        "Disrupted carrier lanes: "
        + (
            "; ".join(f"{c['id']} in {', '.join(c['disrupted_regions'])}" for c in disrupted)
            or "none"
        )
        + "."
    )
    return "\n".join(lines)


def _pending(r: dict[str, Any]) -> str:
    items = r.get("items") or []
    if not items:
        return "Nothing is waiting for approval."
    lines = [f"{len(items) + (r.get('more') or 0)} approval(s) waiting:"]
    for i in items:
        lines.append(
            f"- {i['approval_id']} ({i['exception_id']}, {i['exception_type']}, orders "
            f"{', '.join(i['orders']) or '-'}): {i['summary'] or 'no plan summary'}; "
            f"cost {money(i['cost_delta'])}. Needs a person because: "
            + ("; ".join(i["reasons"]) or "policy")
        )
    if r.get("more"):
        lines.append(f"... and {r['more']} more (oldest shown first).")
    lines.append("Approvers can answer `approve <id>` or `reject <id> [comment]`.")
    return "\n".join(lines)


def _precedents(r: dict[str, Any]) -> str:
    if not r.get("available"):
        return f"No precedents: {r.get('note')}."
    items = r.get("items") or []
    if not items:
        return "No similar past case is stored yet."
    return "Similar past cases:\n" + "\n".join(
        f"- {p['exception_id']} ({p['event_type']}, {p['status']}, similarity "
        f"{p['similarity']:.2f}): {p['actions'] or 'no actions'}"
        + (f"; {p['outcome']}" if p.get("outcome") else "")
        for p in items
    )


def _what_if(r: dict[str, Any]) -> str:
    head = f"What if {r['scenario']} (simulated, nothing was changed):"
    if not r["affected_orders"]:
        return f"{head} no open order would be affected."
    lines = [
        head,
        f"{r['affected_orders']} open order(s) affected. Expected cost if nothing is done: "
        f"${r['expected_cost_before']:,.2f}; after the re-plan: ${r['expected_cost_after']:,.2f} "
        f"(shipping and handling change {money(r['cost_delta'])}).",
        f"On time: {pct(r['on_time_before'])} as allocated -> {pct(r['on_time_after'])} re-planned"
        + (
            f" ({r['method']}{', optimal' if r.get('optimal') else ''})."
            if r.get("method")
            else "."
        ),
    ]
    for c in r["changes"]:
        after = " + ".join(c["after"]) or "backorder"
        lines.append(
            f"- {c['order']}: {c['kind']}: {c['before'] or 'unallocated'} -> {after} "
            f"({money(c['cost_delta'])}, on time {pct(c['on_time_after'])})"
            + (f": {c['reason']}" if c.get("reason") else "")
        )
    if r.get("uncovered"):
        lines.append("Cannot be shipped: " + "; ".join(r["uncovered"]) + ".")
    return "\n".join(lines)


def _decision(r: dict[str, Any]) -> str:
    status = r["status"].replace("_", " ")
    lines = [f"{r['exception_id']}: {status}."]
    if r.get("summary"):
        lines.append(f"Plan: {r['summary']} (cost {money(r.get('cost_delta'))}).")
    if r.get("approval_id"):
        lines.append(f"Approval {r['approval_id']}: {r['approval_status']}.")
    if r.get("rationale"):
        lines.append(f"Why: {r['rationale']}")
    return "\n".join(lines)


RENDERERS = {
    "order_status": _order,
    "explain_decision": _explain,
    "network_health": _health,
    "pending_approvals": _pending,
    "search_precedents": _precedents,
    "what_if": _what_if,
    "submit_exception": _decision,
    "decide_approval": _decision,
}
