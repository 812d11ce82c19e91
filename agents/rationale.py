"""Deterministic, readable rationales: why this plan, in one paragraph with the numbers."""

from __future__ import annotations

from tools.decisions import Candidate, ScoreBreakdown, Verdict
from tools.events import ExceptionEvent

TERMS = (
    ("shipping", "shipping"),
    ("handling", "handling"),
    ("lateness_risk", "lateness risk"),
    ("split_penalty", "split"),
    ("inventory_risk", "inventory risk"),
    ("node_strain", "node strain"),
    ("margin_impact", "margin"),
    ("promise_change", "promise change"),
)


def money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def main_terms(score: ScoreBreakdown, limit: int = 3) -> str:
    parts = sorted(
        ((getattr(score, attr), label) for attr, label in TERMS if getattr(score, attr) > 0.005),
        reverse=True,
    )[:limit]
    return ", ".join(f"{label} {money(v)}" for v, label in parts) or "no cost"


def describe_event(event: ExceptionEvent, orders: list[str]) -> str:
    where = [
        f"{k} {v}"
        for k, v in (
            ("node", event.node),
            ("carrier", event.carrier),
            ("region", event.region),
            ("sku", event.sku),
        )
        if v
    ]
    scope = f" at {', '.join(where)}" if where else ""
    who = ", ".join(orders[:5]) + (f" and {len(orders) - 5} more" if len(orders) > 5 else "")
    return f"{event.type.value.replace('_', ' ')}{scope} affecting {who or 'no open orders'}"


def deterministic_rationale(
    event: ExceptionEvent,
    orders: list[str],
    chosen: Candidate,
    candidates: list[Candidate],
    verdicts: list[Verdict],
) -> str:
    described = describe_event(event, orders)
    text = (
        f"{described[:1].upper()}{described[1:]}. Chose {chosen.id}: {chosen.summary} "
        f"(expected cost {money(chosen.score.total)}: {main_terms(chosen.score)})."
    )
    others = [c for c in candidates if c.id != chosen.id]
    if others:
        runner = others[0]
        text += (
            f" Next best {runner.id}: {runner.summary} at {money(runner.score.total)}"
            f" ({main_terms(runner.score, 2)})."
        )
    attention = [v for v in verdicts if v.outcome.value != "allow"]
    if attention:
        text += " Guardrails: " + "; ".join(v.reason for v in attention[:3]) + "."
    elif verdicts:
        text += f" All {len(verdicts)} guardrail checks allow it."
    return text
