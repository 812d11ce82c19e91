"""Jinja2 filters of the console: money, times, percentages, status labels and tones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment

STATUS_LABELS = {
    "auto_resolved": "Auto-resolved",
    "pending_approval": "Pending approval",
    "resolved": "Resolved",
    "escalated": "Escalated",
    "rejected": "Rejected",
    "failed": "Failed",
    "processing": "Processing",
    "queued": "Queued",
    "approved": "Approved",
    "pending": "Pending",
    "superseded": "Superseded",
    "allow": "Allow",
    "approve": "Needs approval",
    "deny": "Deny",
}
TONE = {
    "auto_resolved": "ok",
    "resolved": "ok",
    "approved": "ok",
    "allow": "ok",
    "open": "ok",
    "pending_approval": "warn",
    "pending": "warn",
    "approve": "warn",
    "busy": "warn",
    "degraded": "warn",
    "escalated": "info",
    "processing": "neutral",
    "queued": "neutral",
    "superseded": "neutral",
    "rejected": "error",
    "failed": "error",
    "deny": "error",
    "overloaded": "error",
    "closed": "error",
}


def money(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "–"
    sign = ("+" if value >= 0 else "−") if signed else ("−" if value < 0 else "")
    return f"{sign}${abs(value):,.2f}"


def when(value: datetime | str | None, pattern: str = "%d %b %H:%M") -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime(pattern)


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def label(value: Any) -> str:
    text = str(getattr(value, "value", value))
    return STATUS_LABELS.get(text, text.replace("_", " ").capitalize())


def tone(value: Any) -> str:
    return TONE.get(str(getattr(value, "value", value)), "neutral")


def humanize(value: Any) -> str:
    return str(getattr(value, "value", value)).replace("_", " ")


def bar(value: float, limit: float = 1.0) -> int:
    """Width (percent of the track) of a utilisation bar whose track ends at 1.5 x limit."""
    return max(0, min(100, round(value / (1.5 * limit) * 100)))


def install(env: Environment) -> None:
    env.filters.update(
        money=money,
        when=when,
        iso=iso,
        pct=pct,
        label=label,
        tone=tone,
        humanize=humanize,
        bar=bar,
    )
