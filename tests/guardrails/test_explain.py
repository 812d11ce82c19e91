"""Explanations for Slack, the console and plain text: strictest first, numbers included."""

from __future__ import annotations

import pytest

from guardrails.explain import SLACK_MAX_REASONS, explain, headline, reasons_needing_attention
from guardrails.verdicts import verdict
from tests.guardrails.builders import judge, move, plan
from tools.decisions import Outcome


def mixed() -> list:
    # cost +$100 on a $20 hazmat order, by air: approve (cost twice) and deny (hazmat).
    return judge(plan(move("O-FUEL", "D", "A-AIR", cost_delta=100.0)))


def test_reasons_needing_attention_are_strictest_first_and_unique() -> None:
    verdicts = mixed()
    assert reasons_needing_attention(verdicts) == [
        "FUEL is hazmat and A-AIR flies (air) (O-FUEL)",
        "cost +$100.00 exceeds $25.00 per order (O-FUEL)",
        "cost +$100.00 is 250.0% of O-FUEL's $40.00 value, above the 15.0% limit",
    ]
    assert reasons_needing_attention(verdicts + verdicts) == reasons_needing_attention(verdicts)
    assert reasons_needing_attention(judge(plan(move("O-1", "A")))) == []


def test_slack_explanation() -> None:
    text = explain(mixed(), audience="slack")
    lines = text.splitlines()
    assert lines[0] == ":no_entry: *Denied: this plan never executes, whoever approves*"
    assert lines[1] == "• :no_entry: FUEL is hazmat and A-AIR flies (air) (O-FUEL)"
    assert lines[2] == "• :raising_hand: cost +$100.00 exceeds $25.00 per order (O-FUEL)"
    assert lines[-1].startswith("_15 checks passed: plan_integrity, ")
    assert "max_cost_increase_per_order" not in lines[-1]


def test_slack_explanation_escapes_untrusted_text() -> None:
    evil = [
        verdict("plan_integrity", Outcome.DENY, "unknown order '<!channel> & <http://x|y>'", "c")
    ]
    text = explain(evil, audience="slack")
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;http://x|y&gt;" in text


def test_slack_explanation_is_bounded() -> None:
    many = [verdict("r", Outcome.APPROVE, f"reason {i}", "c") for i in range(25)]
    lines = explain(many, audience="slack").splitlines()
    assert len(lines) == 1 + SLACK_MAX_REASONS + 1
    assert lines[-1] == f"• … and {25 - SLACK_MAX_REASONS} more"


def test_console_explanation_lists_every_verdict_strictest_first() -> None:
    verdicts = mixed()
    lines = explain(verdicts, audience="console").splitlines()
    assert lines[0] == "Denied: this plan never executes, whoever approves"
    assert len(lines) == 1 + len(verdicts)
    assert lines[1].split()[:2] == ["DENY", "hazmat_by_air"]
    assert lines[2].split()[:2] == ["APPROVE", "max_cost_increase_per_order"]
    assert all(line.split()[0] == "allow" for line in lines[4:])
    assert "[" not in lines[0]  # no markup


def test_plain_explanation() -> None:
    allowed = judge(plan(move("O-1", "A")))
    assert explain(allowed, audience="plain") == (
        "Allowed: every rule passes; it may execute on its own. 18 checks passed."
    )
    approve = judge(plan(move("O-1", "A", cost_delta=31.2)))
    assert explain(approve, audience="plain").startswith(
        "Needs approval: a person must approve before anything executes. Because: cost +$31.20 "
        "exceeds $25.00 per order (O-1); cost +$31.20 is 15.6% of O-1's $200.00 value"
    )


def test_headline_and_bad_audience() -> None:
    assert headline([]) == "Allowed: every rule passes; it may execute on its own"
    with pytest.raises(ValueError, match="audience"):
        explain([], audience="email")  # type: ignore[arg-type]
