"""Building verdicts and reading a list of them: strictest outcome, executable or not."""

from __future__ import annotations

from collections.abc import Iterable
from math import isfinite

from tools.decisions import Outcome, Verdict

_VERDICT_FIELDS = frozenset(Verdict.model_fields)
_set = object.__setattr__
_new = object.__new__


def verdict(
    rule: str,
    outcome: Outcome,
    reason: str,
    candidate: str | None,
    order: str | None = None,
    value: float | None = None,
    limit: float | None = None,
) -> Verdict:
    """A verdict; non-finite numbers are left out (they do not survive JSON).

    Built from values already known valid, without pydantic's per-field bookkeeping: the
    same result as `Verdict.model_construct(...)` with every field given (a test holds it
    equal to a validated `Verdict`), at a fraction of the cost: verdicts are built by the
    thousand in the hot path."""
    made = _new(Verdict)
    _set(
        made,
        "__dict__",
        {
            "rule": rule,
            "outcome": outcome,
            "reason": reason,
            "candidate": candidate,
            "order": order,
            "value": float(value) if value is not None and isfinite(value) else None,
            "limit": float(limit) if limit is not None and isfinite(limit) else None,
        },
    )
    _set(made, "__pydantic_fields_set__", set(_VERDICT_FIELDS))
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made


def strictest(verdicts: Iterable[Verdict]) -> Outcome:
    """The strictest outcome (deny > approve > allow); `allow` when there are none."""
    worst = Outcome.ALLOW
    for v in verdicts:
        if v.outcome.strictness > worst.strictness:
            worst = v.outcome
    return worst


def denied(verdicts: Iterable[Verdict]) -> bool:
    """Some rule says never."""
    return any(v.outcome is Outcome.DENY for v in verdicts)


def needs_approval(verdicts: Iterable[Verdict]) -> bool:
    """Not denied, but a person must approve before anything executes."""
    return strictest(verdicts) is Outcome.APPROVE


def is_executable(verdicts: Iterable[Verdict]) -> bool:
    """No rule denies it. (When `needs_approval`, it executes only after a person approves.)"""
    return not denied(verdicts)


def may_execute_autonomously(verdicts: Iterable[Verdict]) -> bool:
    """Every rule allows it: it may execute without a person."""
    return strictest(verdicts) is Outcome.ALLOW


def by_strictness(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """Strictest first; equal outcomes keep their order (stable)."""
    return sorted(verdicts, key=lambda v: -v.outcome.strictness)
