"""Terminal rendering (rich) of decisions, candidates and verdicts."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tools.decisions import Decision, DecisionStatus, Outcome

STATUS_STYLE = {
    DecisionStatus.AUTO_RESOLVED: "bold green",
    DecisionStatus.RESOLVED: "bold green",
    DecisionStatus.PENDING_APPROVAL: "bold yellow",
    DecisionStatus.ESCALATED: "bold magenta",
    DecisionStatus.REJECTED: "bold red",
    DecisionStatus.FAILED: "bold red",
}
OUTCOME_STYLE = {Outcome.ALLOW: "green", Outcome.APPROVE: "yellow", Outcome.DENY: "red"}


def money(value: float) -> str:
    return f"{'-' if value < 0 else '+'}${abs(value):,.2f}"


def decision_panel(decision: Decision, *, max_candidates: int = 6) -> RenderableType:
    head = Text.assemble(
        (decision.status.value.replace("_", " ").upper(), STATUS_STYLE[decision.status]),
        f"  {decision.exception_id}",
        f"  ·  decided by {decision.decided_by.value}",
        f"  ·  policy {decision.policy_version}",
        f"  ·  {decision.latency_ms:.1f} ms",
    )
    parts: list[RenderableType] = [head, Text(decision.rationale or "", style="italic")]
    if decision.actions:
        actions = Table(title="Actions", expand=True, show_lines=False)
        for col in ("type", "order", "node", "service", "cost Δ", "ETA"):
            actions.add_column(col)
        for a in decision.actions[:40]:
            actions.add_row(
                a.type.value,
                a.order or ", ".join((a.orders or [])[:3]),
                ", ".join(a.nodes()) or "-",
                ", ".join(a.carrier_services()) or "-",
                money(a.cost_delta),
                a.eta.strftime("%a %d %b %H:%M") if a.eta else "-",
            )
        if len(decision.actions) > 40:
            actions.caption = f"... and {len(decision.actions) - 40} more actions"
        parts.append(actions)
    if decision.candidates:
        cands = Table(title="Candidates (expected cost, lower is better)", expand=True)
        for col in ("id", "kind", "summary", "score", "verdict"):
            cands.add_column(col)
        for c in decision.candidates[:max_candidates]:
            worst = max((v.outcome for v in c.verdicts), key=lambda o: o.strictness, default=None)
            cands.add_row(
                ("* " if c.id == decision.chosen else "  ") + c.id,
                c.kind,
                c.summary,
                f"{c.score.total:,.2f}",
                Text(worst.value, style=OUTCOME_STYLE[worst]) if worst else Text("-"),
            )
        parts.append(cands)
    attention = [v for v in decision.verdicts if v.outcome is not Outcome.ALLOW]
    if attention:
        verdicts = Table(title="Guardrails", expand=True)
        verdicts.add_column("rule")
        verdicts.add_column("outcome")
        verdicts.add_column("reason")
        for v in attention:
            verdicts.add_row(
                v.rule, Text(v.outcome.value, style=OUTCOME_STYLE[v.outcome]), v.reason
            )
        parts.append(verdicts)
    if decision.approval is not None:
        parts.append(
            Text(
                f"Approval {decision.approval.id}: {decision.approval.status.value}"
                + (f" by {decision.approval.decided_by}" if decision.approval.decided_by else ""),
                style="yellow",
            )
        )
    return Panel(Group(*parts), title=f"execlayer · {decision.event_type or 'decision'}")
