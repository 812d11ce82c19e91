"""How numbers read in verdict reasons: money, percentages, days, utilisation."""

from __future__ import annotations

from math import isfinite


def money(amount: float) -> str:
    """`$25.00`, `-$4.10`."""
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def signed_money(amount: float) -> str:
    """A change of cost: `+$31.20`, `-$4.10`, `+$0.00`."""
    return f"-${-amount:,.2f}" if amount < 0 else f"+${amount:,.2f}"


def percent(fraction: float, digits: int = 1) -> str:
    """0.165 -> `16.5%`; infinity -> `unbounded`."""
    if not isfinite(fraction):
        return "unbounded"
    return f"{fraction * 100:.{digits}f}%"


def whole_percent(fraction: float) -> str:
    """1.04 -> `104%` (utilisation)."""
    if not isfinite(fraction):
        return "unbounded"
    return f"{fraction * 100:.0f}%"


def days(value: float) -> str:
    """2.5 -> `2.5 days`, 1 -> `1 day`."""
    if not isfinite(value):
        return "an unbounded number of days"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} day" if text == "1" else f"{text} days"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"
