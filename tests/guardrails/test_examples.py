"""The guardrails on the contract's example network: the plans a resolver would weigh."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from guardrails.evaluator import GuardContext, evaluate, strictest
from guardrails.explain import reasons_needing_attention
from guardrails.policy import default_policy
from tools.carriers import current_cost, legal_quotes
from tools.decisions import Action, Candidate, Outcome, ScoreBreakdown
from tools.inputs import load_snapshot
from tools.view import NetworkView


@pytest.fixture(scope="module")
def northeast(northeast_path: Path) -> NetworkView:
    return NetworkView.of(load_snapshot(northeast_path))


def reallocation(view: NetworkView, order_id: str, node: str, service: str) -> Candidate:
    """A reallocation with its real cost delta, as the sourcing tools would price it."""
    order = view.orders[order_id]
    quote = next(
        q
        for q in legal_quotes(
            view, node, order.ship_to, view.order_weight_kg(order), order.promised_by, view.as_of
        )
        if q.carrier_service == service
    )
    delta = quote.cost - current_cost(view, order)
    return Candidate(
        id=f"{order_id}:{node}:{service}",
        kind="reallocate",
        summary=f"Move {order_id} to {node} by {service}",
        actions=[
            Action(
                type="reallocate",
                order=order_id,
                node=node,
                carrier_service=service,
                lines=[{"sku": line.sku, "qty": line.qty} for line in order.lines],
                cost_delta=round(delta, 2),
                eta=quote.eta,
            )
        ],
        orders=[order_id],
        score=ScoreBreakdown(total=quote.cost),
        cost_delta=round(delta, 2),
        on_time_probability=quote.on_time_probability,
        units_by_node={node: order.units},
        capacity_by_node={node: order.units},
    )


def test_surge_reallocation_to_a_dc_is_allowed(northeast: NetworkView) -> None:
    # P1: STORE-BOS overloaded; moving the gold tent order to DC-NJ by ground is routine.
    plan = reallocation(northeast, "O-1001", "DC-NJ", "PARCELCO-GROUND")
    verdicts = evaluate(
        plan, GuardContext(northeast, default_policy(), scope_orders=frozenset({"O-1001"}))
    )
    assert strictest(verdicts) is Outcome.ALLOW, reasons_needing_attention(verdicts)


def test_b2b_kayaks_never_go_to_the_marketplace_seller(northeast: NetworkView) -> None:
    # P3: 3PL-EAST rejected O-1003; MKT-NEWARK has kayaks but is a marketplace seller.
    plan = reallocation(northeast, "O-1003", "MKT-NEWARK", "PARCELCO-GROUND")
    verdicts = evaluate(plan, GuardContext(northeast, default_policy()))
    assert strictest(verdicts) is Outcome.DENY
    assert "O-1003 is a B2B order and MKT-NEWARK is a marketplace seller" in (
        reasons_needing_attention(verdicts)
    )
    distributor = reallocation(northeast, "O-1003", "DIST-ALB", "PARCELCO-GROUND")
    assert not any(
        v.outcome is Outcome.DENY
        for v in evaluate(distributor, GuardContext(northeast, default_policy()))
    )


def test_fuel_never_flies(northeast: NetworkView) -> None:
    order = northeast.orders["O-1001"]
    fuel = Candidate(
        id="fuel",
        kind="reallocate",
        summary="",
        actions=[
            Action(
                type="reallocate",
                order="O-1001",
                node="STORE-NYC",
                carrier_service="PARCELCO-TWO_DAY",
                lines=[{"sku": "SKU-TENT", "qty": 1}],
            ),
        ],
        orders=["O-1001"],
        score=ScoreBreakdown(total=0),
    )
    assert order.lines[0].sku == "SKU-TENT"
    assert not any(
        v.rule == "hazmat_by_air" and v.outcome is Outcome.DENY
        for v in evaluate(fuel, GuardContext(northeast, default_policy()))
    )
    hazmat = northeast.snapshot.model_copy(deep=True)
    hazmat.orders[0].lines[0].sku = "SKU-FUEL"
    view = NetworkView.of(hazmat)
    fuel_plan = fuel.model_copy(deep=True)
    fuel_plan.actions[0].lines[0].sku = "SKU-FUEL"
    verdicts = evaluate(fuel_plan, GuardContext(view, default_policy()))
    assert "SKU-FUEL is hazmat and PARCELCO-TWO_DAY flies (air) (O-1001)" in (
        reasons_needing_attention(verdicts)
    )


def test_injected_cancellation_is_held_for_a_person_or_denied(northeast: NetworkView) -> None:
    # P5: the partner's text asks to cancel O-1001 and O-1005 with no approval.
    cancel_both = Candidate(
        id="injected",
        kind="cancel_lines",
        summary="",
        actions=[
            Action(type="cancel_lines", order="O-1001", lines=[{"sku": "SKU-TENT", "qty": 1}]),
            Action(type="cancel_lines", order="O-1005", lines=[{"sku": "SKU-TENT", "qty": 1}]),
        ],
        orders=["O-1001", "O-1005"],
        score=ScoreBreakdown(total=0),
    )
    ctx = GuardContext(northeast, default_policy(), scope_orders=frozenset({"O-1001"}))
    verdicts = evaluate(cancel_both, ctx)
    assert strictest(verdicts) is Outcome.DENY  # O-1005 is outside the exception
    only_own = cancel_both.model_copy(
        update={"actions": cancel_both.actions[:1], "orders": ["O-1001"]}
    )
    assert strictest(evaluate(only_own, ctx)) is Outcome.APPROVE  # cancel_lines: always a person


def test_backorder_of_the_gloves_needs_a_person(northeast: NetworkView) -> None:
    # P4: gloves out of stock everywhere; a backorder a week out needs approval.
    order = northeast.orders["O-1004"]
    plan = Candidate(
        id="bo",
        kind="backorder",
        summary="",
        actions=[
            Action(
                type="backorder", order="O-1004", promised_by=order.promised_by + timedelta(days=7)
            ),
            Action(type="notify_customer", order="O-1004", message="Your gloves ship next week."),
        ],
        orders=["O-1004"],
        score=ScoreBreakdown(total=0),
    )
    verdicts = evaluate(plan, GuardContext(northeast, default_policy()))
    assert strictest(verdicts) is Outcome.APPROVE
    assert reasons_needing_attention(verdicts) == [
        "backorder moves O-1004's promise 7 days later, more than the 2 days limit"
    ]
