"""Every rule at, just below and just above its threshold (numbers in `builders.py`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from guardrails.evaluator import denied, is_executable, needs_approval, strictest
from tests.guardrails.builders import (
    PROMISED,
    judge,
    leg,
    move,
    of_rule,
    outcome_of,
    plan,
    policy,
    view,
)
from tools.decisions import Action, ActionType, Outcome

# ---------------------------------------------------------------- approval: cost per order


@pytest.mark.parametrize(
    ("cost", "expected"),
    [(24.99, "allow"), (25.00, "allow"), (25.01, "approve"), (-10.0, "allow")],
)
def test_cost_per_order_threshold(cost: float, expected: str) -> None:
    # O-1 is worth $200: keep the percentage rule out of the way.
    pol = policy(approval={"max_cost_increase_pct_of_order": 10.0})
    verdicts = judge(plan(move("O-1", "A", cost_delta=cost)), pol=pol)
    assert outcome_of(verdicts, "max_cost_increase_per_order") == expected
    assert strictest(verdicts).value == expected
    (v,) = of_rule(verdicts, "max_cost_increase_per_order")
    assert v.value == pytest.approx(cost)
    assert v.limit == 25.0
    assert v.order == "O-1"


def test_cost_reason_reads_with_numbers() -> None:
    verdicts = judge(plan(move("O-1", "A", cost_delta=31.2)))
    (v,) = of_rule(verdicts, "max_cost_increase_per_order")
    assert v.reason == "cost +$31.20 exceeds $25.00 per order (O-1)"


def test_cost_is_summed_over_an_orders_actions() -> None:
    pol = policy(approval={"max_cost_increase_pct_of_order": 10.0})
    two = plan(
        move("O-1", "A", cost_delta=15.0),
        Action(type="notify_customer", order="O-1", cost_delta=10.5, message="moved"),
    )
    verdicts = judge(two, pol=pol)
    (v,) = of_rule(verdicts, "max_cost_increase_per_order")
    assert v.value == pytest.approx(25.5)
    assert v.outcome is Outcome.APPROVE


def test_multi_order_action_spreads_its_cost() -> None:
    pol = policy(approval={"max_cost_increase_pct_of_order": 10.0})
    hold = Action(type="hold", orders=["O-1", "O-2"], cost_delta=50.0)
    verdicts = of_rule(judge(plan(hold), pol=pol), "max_cost_increase_per_order")
    assert [(v.order, v.value, v.outcome.value) for v in verdicts] == [
        ("O-1", 25.0, "allow"),
        ("O-2", 25.0, "allow"),
    ]


# ------------------------------------------------------- approval: cost as % of order value


@pytest.mark.parametrize(
    ("cost", "expected"),
    [(29.99, "allow"), (30.00, "allow"), (30.01, "approve")],
)
def test_cost_pct_of_order_threshold(cost: float, expected: str) -> None:
    # O-1 is worth $200; 15 % of it is $30. Lift the absolute limit out of the way.
    pol = policy(approval={"max_cost_increase_per_order": 1000.0})
    verdicts = judge(plan(move("O-1", "A", cost_delta=cost)), pol=pol)
    assert outcome_of(verdicts, "max_cost_increase_pct_of_order") == expected
    assert outcome_of(verdicts, "max_cost_increase_per_order") == "allow"


def test_cost_pct_of_an_order_worth_nothing() -> None:
    free = view(lambda d: d["orders"][0]["lines"][0].__setitem__("unit_price", 0.0))
    up = judge(plan(move("O-1", "A", cost_delta=0.01)), net=free)
    assert outcome_of(up, "max_cost_increase_pct_of_order") == "approve"
    assert "unbounded" in of_rule(up, "max_cost_increase_pct_of_order")[0].reason
    down = judge(plan(move("O-1", "A", cost_delta=-1.0)), net=free)
    assert outcome_of(down, "max_cost_increase_pct_of_order") == "allow"


# ---------------------------------------------------------- approval: cost per decision


@pytest.mark.parametrize(
    ("second", "expected"), [(9.99, "allow"), (10.0, "allow"), (10.01, "approve")]
)
def test_cost_per_decision_threshold(second: float, expected: str) -> None:
    pol = policy(approval={"max_cost_increase_per_decision": 30.0})
    two = plan(move("O-1", "A", cost_delta=20.0), move("O-2", "D", cost_delta=second))
    assert outcome_of(judge(two, pol=pol), "max_cost_increase_per_decision") == expected


def test_cost_per_decision_is_off_by_default() -> None:
    assert of_rule(judge(plan(move("O-1", "A"))), "max_cost_increase_per_decision") == []


# ------------------------------------------------------------- approval: re-promise days


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        (timedelta(days=2) - timedelta(minutes=1), "allow"),
        (timedelta(days=2), "allow"),
        (timedelta(days=2) + timedelta(minutes=1), "approve"),
        (-timedelta(days=1), "allow"),
    ],
)
@pytest.mark.parametrize("kind", ["repromise", "backorder"])
def test_repromise_days_threshold(later: timedelta, expected: str, kind: str) -> None:
    act = Action(type=kind, order="O-1", promised_by=PROMISED + later)
    verdicts = judge(plan(act))
    assert outcome_of(verdicts, "max_repromise_days") == expected
    (v,) = of_rule(verdicts, "max_repromise_days")
    assert v.value == pytest.approx(later / timedelta(days=1))
    assert v.limit == 2.0


def test_backorder_without_a_date_needs_a_person() -> None:
    verdicts = judge(plan(Action(type="backorder", order="O-1")))
    assert outcome_of(verdicts, "max_repromise_days") == "approve"
    assert "no new promise date" in of_rule(verdicts, "max_repromise_days")[0].reason


def test_repromise_reason_names_days() -> None:
    act = Action(type="repromise", order="O-1", promised_by=PROMISED + timedelta(days=3))
    (v,) = of_rule(judge(plan(act)), "max_repromise_days")
    assert v.reason == "repromise moves O-1's promise 3 days later, more than the 2 days limit"


# --------------------------------------------------------- approval: orders per decision


@pytest.mark.parametrize(("count", "expected"), [(2, "allow"), (3, "allow"), (4, "approve")])
def test_blast_radius_threshold(count: int, expected: str) -> None:
    pol = policy(approval={"max_orders_per_decision": 3})
    orders = ["O-1", "O-2", "O-3", "O-4"][:count]
    hold = Action(type="notify_customer", orders=orders, message="update")
    verdicts = judge(plan(hold), pol=pol)
    assert outcome_of(verdicts, "max_orders_per_decision") == expected
    (v,) = of_rule(verdicts, "max_orders_per_decision")
    assert v.value == count


# ------------------------------------------------------------------ approval: always


def test_always_listed_action_needs_a_person() -> None:
    cancel = Action(type="cancel_lines", order="O-1", lines=[{"sku": "TENT", "qty": 1}])
    verdicts = judge(plan(cancel))
    assert outcome_of(verdicts, "always") == "approve"
    assert needs_approval(verdicts)
    assert is_executable(verdicts)


def test_always_is_configurable() -> None:
    cancel = Action(type="cancel_lines", order="O-1", lines=[{"sku": "TENT", "qty": 1}])
    assert outcome_of(judge(plan(cancel), pol=policy(approval={"always": []})), "always") == "allow"
    pol = policy(approval={"always": ["reallocate"]})
    assert outcome_of(judge(plan(move("O-1", "A")), pol=pol), "always") == "approve"


# ------------------------------------------------------------ approval: on-time probability


@pytest.mark.parametrize(("p", "expected"), [(0.89, "approve"), (0.9, "allow"), (0.91, "allow")])
def test_min_on_time_probability_threshold(p: float, expected: str) -> None:
    pol = policy(approval={"min_on_time_probability": 0.9})
    verdicts = judge(plan(move("O-1", "A"), on_time_probability=p), pol=pol)
    assert outcome_of(verdicts, "min_on_time_probability") == expected


def test_missing_on_time_prediction_for_a_shipping_plan_needs_a_person() -> None:
    pol = policy(approval={"min_on_time_probability": 0.9})
    assert outcome_of(judge(plan(move("O-1", "A")), pol=pol), "min_on_time_probability") == (
        "approve"
    )
    note = plan(Action(type="notify_customer", order="O-1", message="hi"))
    assert outcome_of(judge(note, pol=pol), "min_on_time_probability") == "allow"


# ------------------------------------------------------------------- approval: tiers


def test_tiers_that_always_need_a_person() -> None:
    pol = policy(approval={"tiers": ["gold"]})
    assert outcome_of(judge(plan(move("O-GOLD", "A")), pol=pol), "tiers") == "approve"
    assert outcome_of(judge(plan(move("O-1", "A")), pol=pol), "tiers") == "allow"
    hold = plan(Action(type="hold", order="O-GOLD"))
    assert outcome_of(judge(hold, pol=pol), "tiers") == "allow"
    assert of_rule(judge(plan(move("O-GOLD", "A"))), "tiers") == []  # off by default


# ------------------------------------------------------------------ deny: hazmat by air


def test_hazmat_by_air_is_denied_with_a_reason() -> None:
    verdicts = judge(plan(move("O-FUEL", "D", "A-AIR")))
    assert outcome_of(verdicts, "hazmat_by_air") == "deny"
    assert denied(verdicts)
    assert not is_executable(verdicts)
    (v,) = of_rule(verdicts, "hazmat_by_air")
    assert v.reason == "FUEL is hazmat and A-AIR flies (air) (O-FUEL)"


@pytest.mark.parametrize(
    ("order", "service", "expected"),
    [("O-FUEL", "G-GROUND", "allow"), ("O-1", "A-AIR", "allow"), ("O-FUEL", "A-AIR", "deny")],
)
def test_hazmat_by_air_cases(order: str, service: str, expected: str) -> None:
    assert outcome_of(judge(plan(move(order, "D", service))), "hazmat_by_air") == expected


def test_hazmat_by_air_in_one_split_leg() -> None:
    split = Action(
        type="split",
        order="O-MULTI",
        legs=[
            leg("D", "G-GROUND", [("TENT", 2), ("LAMP", 2)]),
            leg("G", "A-AIR", [("FUEL", 2)]),
        ],
    )
    assert outcome_of(judge(plan(split)), "hazmat_by_air") == "deny"
    safe = Action(
        type="split",
        order="O-MULTI",
        legs=[leg("D", "A-AIR", [("TENT", 2), ("LAMP", 2)]), leg("G", "G-GROUND", [("FUEL", 2)])],
    )
    assert outcome_of(judge(plan(safe)), "hazmat_by_air") == "allow"


def test_hazmat_by_air_can_be_switched_off() -> None:
    verdicts = judge(plan(move("O-FUEL", "D", "A-AIR")), pol=policy(deny={"hazmat_by_air": False}))
    assert of_rule(verdicts, "hazmat_by_air") == []
    assert not denied(verdicts)


def test_upgrade_keeping_the_node_checks_the_new_service() -> None:
    upgrade = Action(type="upgrade_service", order="O-FUEL", carrier_service="A-AIR")
    assert outcome_of(judge(plan(upgrade)), "hazmat_by_air") == "deny"


# ------------------------------------------------------------ deny: B2B to marketplace seller


@pytest.mark.parametrize(
    ("order", "node", "expected"),
    [
        ("O-B2B", "M", "deny"),  # channel b2b
        ("O-K2B", "M", "deny"),  # d2c channel but a b2b_contract customer
        ("O-B2B", "D", "allow"),
        ("O-1", "M", "allow"),  # a d2c order may go to a marketplace seller
    ],
)
def test_b2b_to_marketplace_seller(order: str, node: str, expected: str) -> None:
    verdicts = judge(plan(move(order, node)))
    got = outcome_of(verdicts, "b2b_to_marketplace_seller")
    if order == "O-1":
        assert got == "allow"
        assert "no B2B order" in of_rule(verdicts, "b2b_to_marketplace_seller")[0].reason
    else:
        assert got == expected
    assert denied(verdicts) == (expected == "deny")


def test_b2b_to_marketplace_seller_reason() -> None:
    (v,) = of_rule(judge(plan(move("O-B2B", "M"))), "b2b_to_marketplace_seller")
    assert v.reason == "O-B2B is a B2B order and M is a marketplace seller"
    off = judge(plan(move("O-B2B", "M")), pol=policy(deny={"b2b_to_marketplace_seller": False}))
    assert not denied(off)


# ------------------------------------------------------------------ deny: utilisation


@pytest.mark.parametrize(("units", "expected"), [(49, "allow"), (50, "allow"), (51, "deny")])
def test_node_utilization_threshold_from_lines(units: int, expected: str) -> None:
    # A: backlog 50, capacity 100 a day, cap 100 %. O-BIG orders 60 TENT; A has plenty of LAMP
    # but only 20 TENT, so give A enough TENT for this test.
    def stock(d: dict) -> None:
        d["inventory"][0].update(on_hand=500, reserved=0, safety_stock=0)

    verdicts = judge(plan(move("O-BIG", "A", lines=[("TENT", units)])), net=view(stock))
    assert outcome_of(verdicts, "max_node_utilization") == expected
    (v,) = of_rule(verdicts, "max_node_utilization")
    assert v.value == pytest.approx((50 + units) / 100)
    assert v.limit == 1.0


@pytest.mark.parametrize(("units", "expected"), [(49, "allow"), (50, "allow"), (51, "deny")])
def test_node_utilization_threshold_from_declared_capacity(units: int, expected: str) -> None:
    verdicts = judge(plan(move("O-1", "A"), capacity_by_node={"A": units}))
    assert outcome_of(verdicts, "max_node_utilization") == expected


def test_node_utilization_reason_and_cap() -> None:
    verdicts = judge(plan(move("O-1", "A"), capacity_by_node={"A": 54}))
    (v,) = of_rule(verdicts, "max_node_utilization")
    assert v.reason.startswith("A utilisation would reach 104% (limit 100%)")
    lenient = judge(
        plan(move("O-1", "A"), capacity_by_node={"A": 54}),
        pol=policy(deny={"max_node_utilization": 1.1}),
    )
    assert outcome_of(lenient, "max_node_utilization") == "allow"


def test_node_without_capacity_takes_nothing() -> None:
    zero = view(lambda d: d["nodes"][0].__setitem__("capacity_units_per_day", 0))
    verdicts = judge(plan(move("O-1", "A")), net=zero)
    assert outcome_of(verdicts, "max_node_utilization") == "deny"


def test_staying_on_an_overloaded_node_adds_no_work() -> None:
    overloaded = view(lambda d: d["nodes"][1].__setitem__("backlog_units", 500))  # B at 500 %
    verdicts = judge(plan(Action(type="hold", order="O-1")), net=overloaded)
    assert outcome_of(verdicts, "max_node_utilization") == "allow"
    upgrade = Action(type="upgrade_service", order="O-1", carrier_service="A-AIR")
    assert outcome_of(judge(plan(upgrade), net=overloaded), "max_node_utilization") == "allow"


# ----------------------------------------------------------- deny: safety stock, oversell


@pytest.mark.parametrize(
    ("units", "safety", "oversell"),
    [
        (9, "allow", "allow"),
        (10, "allow", "allow"),  # leaves 5 = safety stock
        (11, "deny", "allow"),
        (15, "deny", "allow"),  # every free unit: still not overselling
        (16, "deny", "deny"),
    ],
)
def test_safety_stock_and_oversell_thresholds(units: int, safety: str, oversell: str) -> None:
    # A has TENT on_hand 20, reserved 5, safety 5: 15 free, 10 above safety stock.
    verdicts = judge(plan(move("O-BIG", "A", lines=[("TENT", units)])))
    assert outcome_of(verdicts, "respect_safety_stock") == safety
    assert outcome_of(verdicts, "no_oversell") == oversell


def test_oversell_is_denied_even_without_the_safety_stock_rule() -> None:
    pol = policy(deny={"respect_safety_stock": False})
    ok = judge(plan(move("O-BIG", "A", lines=[("TENT", 15)])), pol=pol)
    assert of_rule(ok, "respect_safety_stock") == []
    assert not denied(ok)
    over = judge(plan(move("O-BIG", "A", lines=[("TENT", 16)])), pol=pol)
    assert outcome_of(over, "no_oversell") == "deny"
    (v,) = of_rule(over, "no_oversell")
    assert v.reason == "taking 16 x TENT at A would oversell: 15 free (on hand 20, reserved 5)"


def test_stock_taken_is_summed_over_the_plans_orders() -> None:
    # 2 x 6 TENT at A: 12 > 10 above safety stock.
    two = plan(move("O-BIG", "A", lines=[("TENT", 6)]), move("O-B2B", "A", lines=[("TENT", 3)]))
    assert outcome_of(judge(two), "respect_safety_stock") == "allow"
    three = plan(
        move("O-BIG", "A", lines=[("TENT", 8)]),
        move("O-B2B", "A", lines=[("TENT", 3)]),
    )
    assert outcome_of(judge(three), "respect_safety_stock") == "deny"


def test_a_node_without_the_sku_cannot_supply_it() -> None:
    gone = view(lambda d: d["inventory"].pop(0))  # A no longer stocks TENT
    verdicts = judge(plan(move("O-1", "A")), net=gone)
    assert outcome_of(verdicts, "no_oversell") == "deny"


def test_staying_at_the_current_node_takes_no_new_stock() -> None:
    verdicts = judge(plan(Action(type="upgrade_service", order="O-BIG", carrier_service="A-AIR")))
    assert outcome_of(verdicts, "no_oversell") == "allow"
    assert "no new stock" in of_rule(verdicts, "no_oversell")[0].reason


def test_declared_units_beyond_the_lines_are_checked_against_the_node() -> None:
    # A holds 15 free TENT + 99 free LAMP + 99 free FUEL (LAMP/FUEL reserve 0, safety 1).
    ok = plan(move("O-1", "A"), units_by_node={"A": 100})
    assert outcome_of(judge(ok), "no_oversell") == "allow"
    too_many = plan(move("O-1", "A"), units_by_node={"A": 1000})
    assert outcome_of(judge(too_many), "no_oversell") == "deny"


def test_transfer_takes_stock_at_the_source() -> None:
    transfer = Action(
        type="transfer_inventory",
        order="O-1",
        from_node="A",
        node="B",
        lines=[{"sku": "TENT", "qty": 11}],
    )
    verdicts = judge(plan(transfer))
    assert outcome_of(verdicts, "respect_safety_stock") == "deny"
    assert outcome_of(verdicts, "max_node_utilization") == "allow"  # 50 + 11 of 100
    fine = Action(
        type="transfer_inventory",
        order="O-1",
        from_node="A",
        node="B",
        lines=[{"sku": "TENT", "qty": 10}],
    )
    assert not denied(judge(plan(fine)))


# ------------------------------------------------------------------ deny: split nodes


@pytest.mark.parametrize(("nodes", "expected"), [(1, "allow"), (2, "allow"), (3, "deny")])
def test_split_nodes_threshold(nodes: int, expected: str) -> None:
    legs = [
        leg("D", "G-GROUND", [("TENT", 2)]),
        leg("G", "G-GROUND", [("LAMP", 2)]),
        leg("M", "G-GROUND", [("FUEL", 2)]),
    ]
    if nodes == 1:
        legs = [leg("D", "G-GROUND", [("TENT", 2), ("LAMP", 2), ("FUEL", 2)])]
    elif nodes == 2:
        legs = [legs[0], leg("G", "G-GROUND", [("LAMP", 2), ("FUEL", 2)])]
    verdicts = judge(plan(Action(type="split", order="O-MULTI", legs=legs)))
    assert outcome_of(verdicts, "max_split_nodes") == expected
    (v,) = of_rule(verdicts, "max_split_nodes")
    assert (v.value, v.limit) == (nodes, 2)


def test_split_limit_is_configurable() -> None:
    legs = [leg("D", "G-GROUND", [("TENT", 2)]), leg("G", "G-GROUND", [("LAMP", 2), ("FUEL", 2)])]
    split = plan(Action(type="split", order="O-MULTI", legs=legs))
    assert outcome_of(judge(split, pol=policy(deny={"max_split_nodes": 1})), "max_split_nodes") == (
        "deny"
    )


# ------------------------------------------------------------- deny: closed nodes, channel


@pytest.mark.parametrize(("node", "expected"), [("C", "deny"), ("G", "allow"), ("D", "allow")])
def test_closed_nodes(node: str, expected: str) -> None:
    verdicts = judge(plan(move("O-1", node)))
    assert outcome_of(verdicts, "closed_nodes") == expected
    assert denied(verdicts) == (expected == "deny")


def test_closed_node_as_transfer_source_and_as_kept_allocation() -> None:
    transfer = Action(
        type="transfer_inventory", order="O-1", from_node="C", lines=[{"sku": "TENT", "qty": 1}]
    )
    assert outcome_of(judge(plan(transfer)), "closed_nodes") == "deny"
    closed_b = view(lambda d: d["nodes"][1].__setitem__("status", "closed"))
    assert outcome_of(
        judge(plan(Action(type="hold", order="O-1")), net=closed_b), "closed_nodes"
    ) == ("deny")


def test_closed_nodes_rule_can_be_switched_off() -> None:
    verdicts = judge(plan(move("O-1", "C")), pol=policy(deny={"closed_nodes": False}))
    assert of_rule(verdicts, "closed_nodes") == []


@pytest.mark.parametrize(("order", "expected"), [("O-1", "allow"), ("O-B2B", "deny")])
def test_node_must_serve_the_orders_channel(order: str, expected: str) -> None:
    # B serves d2c and marketplace only; start every order at D and send it to B.
    def at_d(d: dict) -> None:
        for o in d["orders"]:
            o["allocation"] = {"node": "D", "carrier_service": "G-GROUND"}

    verdicts = judge(plan(move(order, "B")), net=view(at_d))
    assert outcome_of(verdicts, "node_must_serve_channel") == expected


def test_node_channel_rule_can_be_switched_off() -> None:
    pol = policy(deny={"node_must_serve_channel": False})
    assert of_rule(judge(plan(move("O-B2B", "B")), pol=pol), "node_must_serve_channel") == []


# ----------------------------------------------------------- every rule is listed, numbers


def test_every_rule_reports_a_verdict_for_a_plain_plan() -> None:
    verdicts = judge(plan(move("O-1", "A")))
    rules = {v.rule for v in verdicts}
    assert rules == {
        "plan_integrity",
        "order_scope",
        "order_actionable",
        "autonomy",
        "closed_nodes",
        "node_must_serve_channel",
        "b2b_to_marketplace_seller",
        "hazmat_by_air",
        "max_split_nodes",
        "max_node_utilization",
        "no_oversell",
        "respect_safety_stock",
        "always",
        "max_cost_increase_per_order",
        "max_cost_increase_pct_of_order",
        "max_repromise_days",
        "max_orders_per_decision",
        "rate_limit",
    }
    assert all(v.candidate == "c1" for v in verdicts)
    assert strictest(verdicts) is Outcome.ALLOW


def test_strictest_outcome_wins() -> None:
    # Over the cost limit (approve) AND hazmat by air (deny): deny wins.
    verdicts = judge(plan(move("O-FUEL", "D", "A-AIR", cost_delta=100.0)))
    assert {v.outcome for v in verdicts} == {Outcome.ALLOW, Outcome.APPROVE, Outcome.DENY}
    assert strictest(verdicts) is Outcome.DENY
    assert not needs_approval(verdicts)
    assert strictest([]) is Outcome.ALLOW


def test_action_type_enum_covers_every_contract_type() -> None:
    assert {t.value for t in ActionType} >= {"reallocate", "split", "cancel_lines", "hold"}


def test_a_repromise_restating_the_reallocation_takes_no_stock_twice() -> None:
    # 10 TENT at A leaves exactly the safety stock; restating them must not count 20.
    moved = move("O-BIG", "A", lines=[("TENT", 10)])
    restated = Action(
        type="repromise",
        order="O-BIG",
        node="A",
        carrier_service="A-AIR",
        lines=[{"sku": "TENT", "qty": 10}],
        promised_by=PROMISED + timedelta(days=1),
    )
    booked = Action(type="book_carrier", order="O-BIG", node="A", carrier_service="G-GROUND")
    verdicts = judge(plan(moved, restated, booked))
    assert not denied(verdicts), [v.reason for v in verdicts if v.outcome is Outcome.DENY]
    (taken,) = of_rule(verdicts, "no_oversell")
    assert taken.value == 10
    assert outcome_of(verdicts, "max_split_nodes") == "allow"


def test_a_repromise_alone_may_move_the_order() -> None:
    alone = Action(
        type="repromise",
        order="O-BIG",
        node="A",
        carrier_service="G-GROUND",
        lines=[{"sku": "TENT", "qty": 11}],
        promised_by=PROMISED + timedelta(days=1),
    )
    verdicts = judge(plan(alone))
    assert outcome_of(verdicts, "respect_safety_stock") == "deny"  # 11 > 10 above safety
