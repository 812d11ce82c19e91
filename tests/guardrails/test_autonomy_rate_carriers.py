"""Autonomy levels, the runaway rate limit, carrier lists, order scope and actionability."""

from __future__ import annotations

import pytest

from guardrails.evaluator import (
    denied,
    is_executable,
    may_execute_autonomously,
    needs_approval,
    strictest,
)
from tests.guardrails.builders import judge, move, of_rule, outcome_of, plan, policy
from tools.decisions import Action, Outcome

# --------------------------------------------------------------------------- autonomy


def test_auto_lets_allowed_plans_execute() -> None:
    verdicts = judge(plan(move("O-1", "A")))
    assert outcome_of(verdicts, "autonomy") == "allow"
    assert may_execute_autonomously(verdicts)


def test_recommend_needs_a_person_for_every_plan_that_acts() -> None:
    pol = policy(autonomy="recommend")
    verdicts = judge(plan(move("O-1", "A")), pol=pol)
    assert outcome_of(verdicts, "autonomy") == "approve"
    assert needs_approval(verdicts)
    assert is_executable(verdicts)
    assert not may_execute_autonomously(verdicts)
    note = judge(plan(Action(type="notify_customer", order="O-1", message="x")), pol=pol)
    assert outcome_of(note, "autonomy") == "approve"


def test_recommend_lets_a_plan_that_only_holds_pass() -> None:
    verdicts = judge(plan(Action(type="hold", order="O-1")), pol=policy(autonomy="recommend"))
    assert outcome_of(verdicts, "autonomy") == "allow"


@pytest.mark.parametrize(
    "candidate",
    [plan(move("O-1", "A")), plan(Action(type="hold", order="O-1"))],
    ids=["acting", "holding"],
)
def test_off_denies_everything_so_it_escalates(candidate) -> None:
    verdicts = judge(candidate, pol=policy(autonomy="off"))
    (v,) = of_rule(verdicts, "autonomy")
    assert v.outcome is Outcome.DENY
    assert v.reason == "autonomy is off: every exception goes to a person"
    assert denied(verdicts)


# ------------------------------------------------------------------------- rate limit


@pytest.mark.parametrize(("recent", "expected"), [(3, "allow"), (4, "allow"), (5, "approve")])
def test_rate_limit_threshold(recent: int, expected: str) -> None:
    pol = policy(rate_limit={"max_autonomous_actions_per_node_per_hour": 5})
    verdicts = judge(plan(move("O-1", "A")), pol=pol, recent={"A": recent, "D": 99})
    assert outcome_of(verdicts, "rate_limit") == expected
    (v,) = of_rule(verdicts, "rate_limit")
    assert (v.value, v.limit) == (recent + 1, 5)
    if expected == "approve":
        assert v.reason == (
            "A would receive 6 autonomous actions in an hour (5 recent + 1 now), over the "
            "limit of 5"
        )


def test_rate_limit_counts_this_plans_actions_per_node() -> None:
    pol = policy(rate_limit={"max_autonomous_actions_per_node_per_hour": 2})
    two = plan(move("O-1", "D"), move("O-2", "D"))
    assert outcome_of(judge(two, pol=pol), "rate_limit") == "allow"
    three = plan(move("O-1", "D"), move("O-2", "D"), move("O-3", "D"))
    assert outcome_of(judge(three, pol=pol), "rate_limit") == "approve"


def test_rate_limit_zero_and_off() -> None:
    zero = policy(rate_limit={"max_autonomous_actions_per_node_per_hour": 0})
    assert outcome_of(judge(plan(move("O-1", "A")), pol=zero), "rate_limit") == "approve"
    off = policy(rate_limit={"max_autonomous_actions_per_node_per_hour": None})
    assert of_rule(judge(plan(move("O-1", "A")), pol=off, recent={"A": 10**6}), "rate_limit") == []


def test_rate_limit_ignores_holds_and_covers_transfer_sources() -> None:
    pol = policy(rate_limit={"max_autonomous_actions_per_node_per_hour": 1})
    hold = judge(plan(Action(type="hold", order="O-1")), pol=pol, recent={"B": 5})
    assert outcome_of(hold, "rate_limit") == "allow"
    transfer = Action(
        type="transfer_inventory", order="O-1", from_node="D", lines=[{"sku": "TENT", "qty": 1}]
    )
    verdicts = judge(plan(transfer), pol=pol, recent={"D": 1})
    # The transfer is an action at its source D (1 recent + 1) and its destination B (0 + 1).
    assert [(v.reason[0], v.outcome.value) for v in of_rule(verdicts, "rate_limit")] == [
        ("B", "allow"),
        ("D", "approve"),
    ]


# ----------------------------------------------------------------------- carrier lists


@pytest.mark.parametrize(
    ("carriers", "service", "expected"),
    [
        ({}, "A-AIR", ""),  # no lists: rule not checked
        ({"allow": {"NE": ["GROUNDCO"]}}, "G-GROUND", "allow"),
        ({"allow": {"NE": ["GROUNDCO"]}}, "A-AIR", "deny"),
        ({"allow": {"SE": ["GROUNDCO"]}}, "A-AIR", "allow"),  # no list for NE
        ({"allow": {"*": ["AIRCO"]}}, "G-GROUND", "deny"),
        ({"deny": {"NE": ["AIRCO"]}}, "A-AIR", "deny"),
        ({"deny": {"*": ["AIRCO"]}}, "A-AIR", "deny"),
        ({"deny": {"SE": ["AIRCO"]}}, "A-AIR", "allow"),
        ({"allow": {"*": ["AIRCO"]}, "deny": {"NE": ["AIRCO"]}}, "A-AIR", "deny"),
    ],
)
def test_carrier_lists_by_destination_region(carriers: dict, service: str, expected: str) -> None:
    verdicts = judge(plan(move("O-1", "D", service)), pol=policy(carriers=carriers))
    assert outcome_of(verdicts, "carrier_lists") == expected


def test_carrier_list_reason() -> None:
    pol = policy(carriers={"allow": {"NE": ["GROUNDCO"]}})
    (v,) = of_rule(judge(plan(move("O-1", "D", "A-AIR")), pol=pol), "carrier_lists")
    assert v.reason == (
        "AIRCO is not on the allow list for region NE (allowed: GROUNDCO) (A-AIR, O-1)"
    )


# ------------------------------------------------------------ scope and actionability


def test_acting_on_an_order_the_plan_does_not_list_is_denied() -> None:
    verdicts = judge(plan(move("O-1", "A"), move("O-2", "A"), orders=["O-1"]))
    assert outcome_of(verdicts, "order_scope") == "deny"
    (v,) = of_rule(verdicts, "order_scope")
    assert v.order == "O-2"


def test_acting_outside_the_exceptions_scope_is_denied() -> None:
    both = plan(move("O-1", "A"), move("O-2", "D"))
    assert outcome_of(judge(both, scope=frozenset({"O-1", "O-2"})), "order_scope") == "allow"
    verdicts = judge(both, scope=frozenset({"O-1"}))
    assert outcome_of(verdicts, "order_scope") == "deny"
    assert "this exception does not concern" in of_rule(verdicts, "order_scope")[0].reason


def test_shipped_orders_cannot_change() -> None:
    verdicts = judge(plan(move("O-SHIPPED", "A")))
    assert outcome_of(verdicts, "order_actionable") == "deny"
    assert "O-SHIPPED is shipped" in of_rule(verdicts, "order_actionable")[0].reason


def test_unallocated_order_can_be_allocated() -> None:
    verdicts = judge(plan(move("O-FREE", "D")))
    assert strictest(verdicts) is Outcome.ALLOW
    assert outcome_of(verdicts, "no_oversell") == "allow"
