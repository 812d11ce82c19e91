"""Block Kit messages, modelled on Slack's own approval pattern (app-interaction-patterns):
a request with fields and Approve (primary, with a confirm dialog) / Reject (danger) buttons,
then the same message updated in place with the outcome as context lines.

Everything that comes from outside (partner text, ids, comments) is escaped for mrkdwn
(`&`, `<`, `>`), so nobody can inject a mention, a link or a broadcast into the channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.notifiers import ApprovalNotice, AutoResolution
from tools.decisions import Action, ActionType, ApprovalStatus, Candidate, Decision
from tools.events import ExceptionEvent

APPROVE = "execlayer_approve"
REJECT = "execlayer_reject"
OPEN = "execlayer_open"
MAX_ACTIONS_LISTED = 8
MAX_DIGEST_LINES = 20

Block = dict[str, Any]


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def money(value: float) -> str:
    return f"{'-' if value < 0 else '+'}${abs(value):,.2f}"


def when(moment: datetime | None) -> str:
    return moment.strftime("%a %d %b %H:%M UTC") if moment is not None else "-"


def mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text, 3000)}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, 150), "emoji": True}


def title(kind: str) -> str:
    return kind.replace("_", " ")


def who(actor: str | None) -> str:
    if actor and actor.startswith("slack:"):
        return f"<@{escape(actor.removeprefix('slack:'))}>"
    return escape(actor or "someone")


def describe_action(a: Action) -> str:
    order = a.order or ", ".join((a.orders or [])[:3])
    parts = [f"*{title(a.type.value)}* {escape(order)}"]
    if a.type is ActionType.SPLIT and a.legs:
        parts.append("across " + ", ".join(escape(leg.node) for leg in a.legs))
    elif a.type is ActionType.TRANSFER_INVENTORY and a.from_node and a.node:
        parts.append(f"{escape(a.from_node)} → {escape(a.node)}")
    elif a.node:
        parts.append(f"from {escape(a.node)}")
    if a.carrier_service and a.type is not ActionType.SPLIT:
        parts.append(f"via {escape(a.carrier_service)}")
    if a.promised_by is not None:
        parts.append(f"new promise {when(a.promised_by)}")
    if a.cost_delta:
        parts.append(f"({money(a.cost_delta)})")
    return " ".join(parts)


def chosen(decision: Decision) -> Candidate | None:
    return next((c for c in decision.candidates if c.id == decision.chosen), None)


def promise_impact(decision: Decision, plan: Candidate | None) -> str:
    lines = []
    if plan is not None and plan.eta is not None:
        text = f"ETA {when(plan.eta)}"
        if plan.on_time_probability is not None:
            text += f" · {plan.on_time_probability:.0%} on time"
        lines.append(text)
    for a in decision.actions:
        if a.promised_by is not None:
            lines.append(f"{escape(a.order or '')} promised {when(a.promised_by)}")
    return "\n".join(lines[:4]) or "unchanged"


def describe_event(event: ExceptionEvent | None, decision: Decision) -> str:
    kind = title(event.type.value if event else decision.event_type or "exception")
    scope = []
    if event is not None:
        scope = [
            f"{k} `{escape(v)}`"
            for k, v in (
                ("node", event.node),
                ("carrier", event.carrier),
                ("region", event.region),
                ("sku", event.sku),
            )
            if v
        ]
    orders = decision.orders or (event.orders if event else [])
    shown = ", ".join(f"`{escape(o)}`" for o in orders[:6])
    more = f" and {len(orders) - 6} more" if len(orders) > 6 else ""
    text = f"*What happened:* {kind}"
    if scope:
        text += " at " + ", ".join(scope)
    if orders:
        text += f", affecting {shown}{more}"
    if event is not None:
        text += f" (reported by {escape(event.source)} at {when(event.occurred_at)})"
    if event is not None and event.text:
        quoted = escape(clip(" ".join(event.text.split()), 500))
        text += f"\n>_untrusted text:_ {quoted}"
    return text


def situation_blocks(notice: ApprovalNotice, console_url: str | None) -> list[Block]:
    decision = notice.decision
    plan = chosen(decision)
    cost = sum(a.cost_delta for a in decision.actions)
    fields = [
        mrkdwn(f"*Proposed plan*\n{escape(clip(plan.summary, 400)) if plan else '-'}"),
        mrkdwn(
            f"*Cost impact*\n{money(cost)}"
            + (f" (expected cost ${plan.score.total:,.2f})" if plan else "")
        ),
        mrkdwn(f"*Promise impact*\n{promise_impact(decision, plan)}"),
        mrkdwn(f"*Policy*\n{escape(decision.policy_version)} · decided by {decision.decided_by}"),
    ]
    blocks: list[Block] = [
        {
            "type": "header",
            "text": plain(f"Approval needed: {title(decision.event_type or 'exception')}"),
        },
        {"type": "section", "text": mrkdwn(describe_event(notice.event, decision))},
        {"type": "section", "fields": fields},
    ]
    if decision.actions:
        listed = [f"• {describe_action(a)}" for a in decision.actions[:MAX_ACTIONS_LISTED]]
        if len(decision.actions) > MAX_ACTIONS_LISTED:
            listed.append(f"• … and {len(decision.actions) - MAX_ACTIONS_LISTED} more")
        blocks.append(
            {"type": "section", "text": mrkdwn("*Proposed actions*\n" + "\n".join(listed))}
        )
    reasons = notice.approval.reasons or ["the operating policy asks for a person"]
    blocks.append(
        {
            "type": "section",
            "text": mrkdwn(
                "*Why a person must decide*\n" + "\n".join(f"• {escape(r)}" for r in reasons[:8])
            ),
        }
    )
    context = f"`{escape(decision.exception_id)}` · approval `{escape(notice.approval.id)}`"
    if console_url:
        link = f"{console_url.rstrip('/')}/exceptions/{decision.exception_id}"
        context += f" · <{escape(link)}|open in the console>"
    blocks.append({"type": "context", "elements": [mrkdwn(context)]})
    return blocks


def buttons(approval_id: str, console_url: str | None, exception_id: str) -> Block:
    elements: list[Block] = [
        {
            "type": "button",
            "action_id": APPROVE,
            "text": {"type": "plain_text", "emoji": True, "text": "Approve"},
            "style": "primary",
            "value": approval_id,
            "confirm": {
                "title": {"type": "plain_text", "text": "Approve"},
                "text": mrkdwn("The proposed actions will be executed now."),
                "confirm": {"type": "plain_text", "text": "Yes, execute"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        },
        {
            "type": "button",
            "action_id": REJECT,
            "text": {"type": "plain_text", "emoji": True, "text": "Reject"},
            "style": "danger",
            "value": approval_id,
        },
    ]
    if console_url:
        elements.append(
            {
                "type": "button",
                "action_id": OPEN,
                "text": {"type": "plain_text", "text": "Details"},
                "url": f"{console_url.rstrip('/')}/exceptions/{exception_id}",
            }
        )
    return {
        "type": "actions",
        "block_id": clip(f"approval:{approval_id}", 255),
        "elements": elements,
    }


def approval_request(notice: ApprovalNotice, console_url: str | None = None) -> list[Block]:
    if notice.approval.status is not ApprovalStatus.PENDING:
        return approval_outcome(notice, console_url)
    return [
        *situation_blocks(notice, console_url),
        buttons(notice.approval.id, console_url, notice.decision.exception_id),
    ]


def outcome_line(notice: ApprovalNotice) -> str:
    approval, decision = notice.approval, notice.decision
    at = when(approval.decided_at)
    via = f" in {escape(approval.channel)}" if approval.channel else ""
    if approval.status is ApprovalStatus.APPROVED:
        head = f":white_check_mark: Approved by {who(approval.decided_by)}{via} on {at}"
    elif approval.status is ApprovalStatus.REJECTED:
        head = f":x: Rejected by {who(approval.decided_by)}{via} on {at}"
    else:
        head = f":information_source: {approval.status.value.capitalize()} on {at}"
    state = decision.status.value
    if state in ("resolved", "auto_resolved"):
        tail = f"executed {len(decision.actions)} action(s)"
    elif state == "rejected":
        tail = "nothing was executed"
    elif state == "pending_approval":
        tail = "executing…" if approval.status is ApprovalStatus.APPROVED else "pending"
    else:
        tail = f"now {title(state)}"
    return f"{head} · {tail}"


def approval_outcome(notice: ApprovalNotice, console_url: str | None = None) -> list[Block]:
    blocks = situation_blocks(notice, console_url)
    blocks[0] = {
        "type": "header",
        "text": plain(
            f"Approval {notice.approval.status.value}: "
            f"{title(notice.decision.event_type or 'exception')}"
        ),
    }
    blocks.append({"type": "context", "elements": [mrkdwn(outcome_line(notice))]})
    if notice.approval.comment:
        comment = escape(clip(notice.approval.comment, 1000))
        blocks.append({"type": "context", "elements": [mrkdwn(f":memo: Comment: {comment}")]})
    return blocks


def approval_text(notice: ApprovalNotice) -> str:
    """The notification fallback text."""
    if notice.approval.status is ApprovalStatus.PENDING:
        return (
            f"Approval needed for {notice.decision.exception_id}: "
            + "; ".join(notice.approval.reasons)[:300]
        )
    return (
        f"Approval {notice.approval.id} {notice.approval.status.value} by "
        f"{notice.approval.decided_by}: {notice.decision.exception_id} is "
        f"{notice.decision.status.value}"
    )


def escalation(
    exception_id: str, reason: str, event: ExceptionEvent | None, console_url: str | None
) -> list[Block]:
    kind = title(event.type.value) if event else "exception"
    lines = [f"*Reason:* {escape(clip(reason, 1500))}"]
    if event is not None:
        scope = ", ".join(escape(o) for o in event.orders[:6]) or ", ".join(
            escape(v) for v in (event.node, event.carrier, event.region, event.sku) if v
        )
        lines.append(f"*Scope:* {scope or '-'} · reported by {escape(event.source)}")
        if event.text:
            lines.append(f">_untrusted text:_ {escape(clip(' '.join(event.text.split()), 500))}")
    context = f"`{escape(exception_id)}`"
    if console_url:
        link = f"{console_url.rstrip('/')}/exceptions/{exception_id}"
        context += f" · <{escape(link)}|open in the console>"
    return [
        {"type": "header", "text": plain(f"Escalated to a person: {kind}")},
        {"type": "section", "text": mrkdwn("\n".join(lines))},
        {"type": "context", "elements": [mrkdwn(context)]},
    ]


def failure(exception_id: str, error: str) -> list[Block]:
    return [
        {"type": "header", "text": plain("Resolution stopped")},
        {
            "type": "section",
            "text": mrkdwn(f"`{escape(exception_id)}`: {escape(clip(error, 2500))}"),
        },
        {
            "type": "context",
            "elements": [mrkdwn("Completed steps are recorded; it resumes on the next start.")],
        },
    ]


def digest(items: list[AutoResolution], since: datetime) -> list[Block]:
    total = sum(i.cost_delta or 0.0 for i in items)
    lines = []
    for item in items[:MAX_DIGEST_LINES]:
        line = f"• `{escape(item.exception_id)}` {title(item.event_type or 'exception')}"
        if item.summary:
            line += f": {escape(clip(item.summary, 160))}"
        if item.cost_delta is not None:
            line += f" ({money(item.cost_delta)})"
        lines.append(line)
    if len(items) > MAX_DIGEST_LINES:
        lines.append(f"• … and {len(items) - MAX_DIGEST_LINES} more")
    return [
        {"type": "header", "text": plain(f"{len(items)} exception(s) auto-resolved")},
        {"type": "section", "text": mrkdwn("\n".join(lines) or "-")},
        {
            "type": "context",
            "elements": [mrkdwn(f"Since {when(since)} · total cost impact {money(total)}")],
        },
    ]
