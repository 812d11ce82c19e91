"""Explanations of a plan's verdicts that a person can read in Slack, the console or a log.

Strictest first, short, numbers included. Reasons may quote ids from an untrusted plan, so the
Slack form escapes `&`, `<` and `>` (no `<!channel>` or link can be smuggled in) and the console
form is plain monospace text with no markup at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from guardrails.verdicts import by_strictness, strictest
from guardrails.wording import plural
from tools.decisions import Outcome, Verdict

Audience = Literal["slack", "console", "plain"]

# How many attention reasons a Slack message lists before "... and N more".
SLACK_MAX_REASONS = 10

HEADLINES = {
    Outcome.DENY: "Denied: this plan never executes, whoever approves",
    Outcome.APPROVE: "Needs approval: a person must approve before anything executes",
    Outcome.ALLOW: "Allowed: every rule passes; it may execute on its own",
}
SLACK_MARKS = {
    Outcome.DENY: ":no_entry:",
    Outcome.APPROVE: ":raising_hand:",
    Outcome.ALLOW: ":white_check_mark:",
}
LABELS = {Outcome.DENY: "DENY", Outcome.APPROVE: "APPROVE", Outcome.ALLOW: "allow"}


def reasons_needing_attention(verdicts: Iterable[Verdict]) -> list[str]:
    """The deny and approve reasons, strictest first, each once (for an approval's `reasons`)."""
    seen: dict[str, None] = {}
    for v in by_strictness(verdicts):
        if v.outcome is not Outcome.ALLOW:
            seen.setdefault(v.reason, None)
    return list(seen)


def headline(verdicts: Iterable[Verdict]) -> str:
    return HEADLINES[strictest(verdicts)]


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _passed(verdicts: list[Verdict]) -> tuple[int, list[str]]:
    """How many allow verdicts, and the rules none of whose verdicts is stricter."""
    flagged = {v.rule for v in verdicts if v.outcome is not Outcome.ALLOW}
    allowed = [v for v in verdicts if v.outcome is Outcome.ALLOW]
    return len(allowed), [r for r in dict.fromkeys(v.rule for v in allowed) if r not in flagged]


def _slack(verdicts: list[Verdict]) -> str:
    worst = strictest(verdicts)
    lines = [f"{SLACK_MARKS[worst]} *{_slack_escape(HEADLINES[worst])}*"]
    attention = [v for v in by_strictness(verdicts) if v.outcome is not Outcome.ALLOW]
    reasons = list(dict.fromkeys((v.outcome, v.reason) for v in attention))
    for outcome, reason in reasons[:SLACK_MAX_REASONS]:
        lines.append(f"• {SLACK_MARKS[outcome]} {_slack_escape(reason)}")
    if len(reasons) > SLACK_MAX_REASONS:
        lines.append(f"• … and {len(reasons) - SLACK_MAX_REASONS} more")
    count, rules = _passed(verdicts)
    if count:
        listed = f": {_slack_escape(', '.join(rules))}" if rules else ""
        lines.append(f"_{plural(count, 'check')} passed{listed}_")
    return "\n".join(lines)


def _console(verdicts: list[Verdict]) -> str:
    ordered = by_strictness(verdicts)
    width = max((len(v.rule) for v in ordered), default=0)
    lines = [headline(verdicts)]
    lines.extend(f"  {LABELS[v.outcome]:<7}  {v.rule:<{width}}  {v.reason}" for v in ordered)
    return "\n".join(lines)


def _plain(verdicts: list[Verdict]) -> str:
    parts = [headline(verdicts) + "."]
    reasons = reasons_needing_attention(verdicts)
    if reasons:
        parts.append("Because: " + "; ".join(reasons) + ".")
    count, _ = _passed(verdicts)
    if count:
        parts.append(f"{plural(count, 'check')} passed.")
    return " ".join(parts)


def explain(verdicts: Iterable[Verdict], *, audience: Audience = "slack") -> str:
    """A readable explanation of one plan's verdicts.

    - `slack`: mrkdwn; headline, the deny/approve reasons as bullets (at most 10), then which
      rules passed. Escaped for Slack.
    - `console`: monospace; headline, then every verdict (outcome, rule, reason), strictest first.
    - `plain`: one paragraph of sentences, for logs, e-mail and the decision's rationale.
    """
    items = list(verdicts)
    if audience == "slack":
        return _slack(items)
    if audience == "console":
        return _console(items)
    if audience == "plain":
        return _plain(items)
    raise ValueError(f"audience must be slack, console or plain, not {audience!r}")
