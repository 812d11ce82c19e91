"""The deterministic command grammar, command by command (parsing only)."""

from __future__ import annotations

import pytest

from agents.assistant.grammar import parse


@pytest.mark.parametrize(
    ("message", "tool", "arguments"),
    [
        ("status O-1001", "order_status", {"order_id": "O-1001"}),
        ("  STATUS O-1001?  ", "order_status", {"order_id": "O-1001"}),
        ("why O-1001", "explain_decision", {"ref": "O-1001"}),
        ("why EX-P1", "explain_decision", {"ref": "EX-P1"}),
        ("pending", "pending_approvals", {}),
        ("/pending", "pending_approvals", {}),
        ("health", "network_health", {}),
        (
            "approve AP-EX-P4",
            "decide_approval",
            {"approval_id": "AP-EX-P4", "decision": "approve", "comment": ""},
        ),
        (
            "reject A-12 customer wants to wait",
            "decide_approval",
            {"approval_id": "A-12", "decision": "reject", "comment": "customer wants to wait"},
        ),
        (
            "what-if carrier PARCELCO region SE",
            "what_if",
            {"kind": "carrier", "carrier": "PARCELCO", "region": "SE"},
        ),
        ("what-if carrier PARCELCO", "what_if", {"kind": "carrier", "carrier": "PARCELCO"}),
        ("what-if node STORE-BOS closed", "what_if", {"kind": "node", "node": "STORE-BOS"}),
        ("whatif node STORE-BOS", "what_if", {"kind": "node", "node": "STORE-BOS"}),
        (
            "precedents store buried by a promotion",
            "search_precedents",
            {"query": "store buried by a promotion"},
        ),
        (
            "submit node_overload node STORE-BOS order O-1001,O-1002",
            "submit_exception",
            {"type": "node_overload", "orders": ["O-1001", "O-1002"], "node": "STORE-BOS"},
        ),
    ],
)
def test_commands_parse_to_tool_calls(
    message: str, tool: str, arguments: dict[str, object]
) -> None:
    parsed = parse(message)
    assert (parsed.tool, parsed.arguments) == (tool, arguments)
    assert parsed.understood and not parsed.help and parsed.problem is None


@pytest.mark.parametrize("message", ["help", "HELP", "", "   ", "commands"])
def test_help(message: str) -> None:
    assert parse(message).help


@pytest.mark.parametrize(
    ("message", "usage"),
    [
        ("status", "status ORDER-ID"),
        ("why", "why ORDER-ID"),
        ("approve", "approve APPROVAL-ID"),
        ("reject", "reject APPROVAL-ID"),
        ("what-if", "what-if carrier"),
        ("what-if carrier PARCELCO zone SE", "what-if carrier"),
        ("what-if node STORE-BOS exploded", "what-if carrier"),
        ("precedents", "precedents <what happened>"),
        ("submit", "submit TYPE"),
        ("submit stockout node", "submit TYPE"),
        ("submit stockout node DC-NJ colour red", "submit TYPE"),
    ],
)
def test_misused_commands_say_their_usage(message: str, usage: str) -> None:
    parsed = parse(message)
    assert parsed.tool is None and parsed.problem is not None
    assert parsed.problem.startswith(f"usage: {usage}")


@pytest.mark.parametrize(
    "message",
    [
        "why did order O-1001 move to DC-NJ?",
        "which stores are over capacity right now",
        "hello",
        "status of O-1001 please",
        "approve the Boston reroute",
        "approve <script>",
        "what-if PARCELCO stops serving the Southeast tomorrow",
        "submit a report about STORE-BOS",
    ],
)
def test_free_form_is_not_a_command(message: str) -> None:
    assert not parse(message).understood
