"""Plans that may come from a hostile or confused LLM: never a crash, always denied."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from guardrails import evaluator
from guardrails.evaluator import GuardContext, denied, evaluate, is_executable
from guardrails.policy import default_policy
from guardrails.verdicts import verdict
from tests.guardrails.builders import AS_OF, judge, leg, move, of_rule, plan, view
from tools.decisions import Action, Candidate, Outcome, ScoreBreakdown, Verdict

HUGE = 10**15


def reasons(verdicts: list[Verdict], rule: str) -> list[str]:
    return [v.reason for v in of_rule(verdicts, rule) if v.outcome is Outcome.DENY]


HOSTILE = {
    "unknown order": plan(move("O-NOPE", "A")),
    "unknown node": plan(move("O-1", "NOWHERE")),
    "unknown service": plan(move("O-1", "A", "TELEPORT")),
    "unknown sku": plan(move("O-1", "A", lines=[("PLUTONIUM", 1)])),
    "sku not in the order": plan(move("O-1", "A", lines=[("LAMP", 1)])),
    "ships more than ordered": plan(move("O-1", "D", lines=[("TENT", 5)])),
    "huge quantity": plan(move("O-BIG", "D", lines=[("TENT", HUGE)])),
    "nan cost": plan(move("O-1", "A", cost_delta=float("nan"))),
    "minus infinite cost": plan(move("O-1", "A", cost_delta=float("-inf"))),
    "infinite plan cost": plan(move("O-1", "A"), cost_delta=float("inf")),
    "cancel of another order": plan(
        Action(type="cancel_lines", order="O-2", lines=[{"sku": "TENT", "qty": 1}]),
        orders=["O-1"],
    ),
    "cancel more than ordered": plan(
        Action(type="cancel_lines", order="O-1", lines=[{"sku": "TENT", "qty": 9}])
    ),
    "no actions": plan(orders=["O-1"]),
    "action without an order": plan(Action(type="hold"), orders=["O-1"]),
    "ten thousand bogus orders": plan(
        Action(type="notify_customer", orders=[f"X-{i}" for i in range(10_000)], message="hi")
    ),
    "transfer from nowhere": plan(
        Action(
            type="transfer_inventory",
            order="O-1",
            from_node="NOWHERE",
            lines=[{"sku": "TENT", "qty": 1}],
        )
    ),
    "transfer to itself": plan(
        Action(
            type="transfer_inventory", order="O-1", from_node="B", lines=[{"sku": "TENT", "qty": 1}]
        )
    ),
    "transfer without lines": plan(Action(type="transfer_inventory", order="O-1", from_node="D")),
    "transfer without a source": plan(
        Action(type="transfer_inventory", order="O-1", lines=[{"sku": "TENT", "qty": 1}])
    ),
    "reallocate nowhere": plan(Action(type="reallocate", order="O-FREE")),
    "reallocate without a service": plan(Action(type="reallocate", order="O-1", node="D")),
    "split leg to an unknown node": plan(
        Action(
            type="split",
            order="O-MULTI",
            legs=[leg("D", "G-GROUND", [("TENT", 2)]), leg("??", "G-GROUND", [("LAMP", 2)])],
        )
    ),
    "lines on a multi-order action": plan(
        Action(
            type="reallocate",
            orders=["O-1", "O-2"],
            node="D",
            carrier_service="G-GROUND",
            lines=[{"sku": "TENT", "qty": 1}],
        )
    ),
    "declared stock at an unknown node": plan(move("O-1", "A"), units_by_node={"ATLANTIS": 1}),
    "shipped order": plan(move("O-SHIPPED", "D")),
    "markup in ids": plan(move("<!channel> [bold]x[/]", "A")),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_plan_is_denied_without_crashing(name: str) -> None:
    candidate = HOSTILE[name]
    verdicts = judge(candidate, scope=frozenset({"O-1", "O-2", "O-BIG", "O-FREE", "O-MULTI"}))
    assert denied(verdicts), [v.reason for v in verdicts]
    assert not is_executable(verdicts)
    assert not any(v.rule == "evaluation_error" for v in verdicts)
    json.dumps([v.model_dump(mode="json") for v in verdicts], allow_nan=False)


def test_reasons_name_what_is_wrong() -> None:
    assert reasons(judge(HOSTILE["unknown order"]), "plan_integrity") == [
        "unknown order 'O-NOPE': the plan cannot be trusted"
    ]
    assert reasons(judge(HOSTILE["unknown node"]), "plan_integrity") == [
        "action 1 (reallocate) names unknown node 'NOWHERE': the plan cannot be trusted"
    ]
    assert reasons(judge(HOSTILE["ships more than ordered"]), "plan_integrity") == [
        "ships 5 x TENT for O-1, which ordered 1: the plan cannot be trusted"
    ]
    huge = judge(HOSTILE["huge quantity"])
    assert reasons(huge, "plan_integrity") == [
        f"ships {HUGE} x TENT for O-BIG, which ordered 60: the plan cannot be trusted"
    ]
    assert reasons(huge, "no_oversell") == [
        f"taking {HUGE} x TENT at D would oversell: 200 free (on hand 200, reserved 0)"
    ]
    assert reasons(judge(HOSTILE["cancel of another order"]), "order_scope") == [
        "the plan acts on O-2, which the plan does not list as its orders"
    ]


def test_plan_reported_numbers_are_finite_in_json() -> None:
    verdicts = judge(HOSTILE["nan cost"])
    for v in verdicts:
        data = v.model_dump(mode="json")
        json.dumps(data, allow_nan=False)


def test_evaluation_never_mutates_plan_or_view() -> None:
    net = view()
    before_view = net.snapshot.model_dump_json()
    for candidate in HOSTILE.values():
        before = candidate.model_dump_json()
        evaluate(candidate, GuardContext(net, default_policy()))
        assert candidate.model_dump_json() == before
    assert net.snapshot.model_dump_json() == before_view


def test_the_evaluator_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(plan: Candidate, facts: object, ctx: object) -> list[Verdict]:
        raise RuntimeError("boom")

    monkeypatch.setattr(evaluator, "RULES", (*evaluator.RULES, broken))
    verdicts = judge(plan(move("O-1", "A")))
    assert [(v.rule, v.outcome) for v in verdicts] == [("evaluation_error", Outcome.DENY)]
    assert "RuntimeError: boom" in verdicts[0].reason


def test_a_repromise_far_in_the_future_needs_a_person_not_a_crash() -> None:
    far = Action(type="repromise", order="O-1", promised_by=AS_OF + timedelta(days=3650))
    verdicts = judge(plan(far))
    assert not denied(verdicts)
    assert of_rule(verdicts, "max_repromise_days")[0].outcome is Outcome.APPROVE


def test_fast_verdict_equals_a_validated_verdict() -> None:
    made = verdict("r", Outcome.APPROVE, "because", "c1", "O-1", 3, 2.5)
    checked = Verdict(
        rule="r",
        outcome=Outcome.APPROVE,
        reason="because",
        candidate="c1",
        order="O-1",
        value=3.0,
        limit=2.5,
    )
    assert made == checked
    assert made.model_dump() == checked.model_dump()
    assert made.model_dump_json() == checked.model_dump_json()
    assert Verdict.model_validate_json(made.model_dump_json()) == checked
    bare = verdict("r", Outcome.ALLOW, "ok", None, value=float("inf"))
    assert bare.model_dump() == {"rule": "r", "outcome": Outcome.ALLOW, "reason": "ok"}
    assert bare.model_copy(update={"reason": "x"}).reason == "x"


def test_candidate_with_verdicts_round_trips() -> None:
    candidate = plan(move("O-1", "A", cost_delta=40.0))
    verdicts = judge(candidate)
    stored = Candidate.model_validate_json(
        candidate.model_copy(update={"verdicts": verdicts}).model_dump_json()
    )
    assert stored.verdicts == verdicts
    assert isinstance(stored.score, ScoreBreakdown)
