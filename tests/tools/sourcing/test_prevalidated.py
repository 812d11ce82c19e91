"""Candidate generation builds its models without validating them (`prevalidated.build`) and
legs without their dataclass __init__ (`leg_of`): both must be what validation would make."""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import UTC, datetime

import pytest

from tests.tools.sourcing.test_candidates_golden import (
    bench_inputs,
    random_inputs,
    simulator_inputs,
)
from tools.carriers import QuoteBook
from tools.decisions import Action, ActionLine, ActionType, Candidate
from tools.sourcing.candidates import generate_candidates
from tools.sourcing.options import leg_of
from tools.sourcing.prevalidated import build
from tools.sourcing.score import Leg


def test_candidates_equal_their_validated_copies() -> None:
    inputs = itertools.chain(
        itertools.islice(bench_inputs(), 20), simulator_inputs(), random_inputs()
    )
    for view, situation, order_id, priorities, limits in inputs:
        for made in generate_candidates(view, situation, order_id, priorities, limits):
            checked = Candidate.model_validate(made.model_dump())
            assert made == checked
            assert json.dumps(made.model_dump(mode="json")) == json.dumps(
                checked.model_dump(mode="json")
            )


def test_build_is_the_validated_model() -> None:
    values = {"type": ActionType.HOLD, "order": "O-1", "lines": [ActionLine(sku="S", qty=2)]}
    made = build(Action, **values)
    checked = Action(**values)
    assert made == checked
    assert made.model_fields_set == checked.model_fields_set
    assert made.model_dump() == checked.model_dump()
    assert repr(made) == repr(checked)  # the fields in their order
    assert build(Action, type=ActionType.HOLD).lines == []
    with pytest.raises(TypeError):
        build(Action, order="O-1")  # type is required
    with pytest.raises(TypeError):
        build(Action, type=ActionType.HOLD, colour="red")


def test_leg_of_is_the_dataclass_leg() -> None:
    view, _, order_id, _, _ = next(bench_inputs())
    order = view.orders[order_id]
    book = QuoteBook(view, order.ship_to, order.promised_by)
    lines = tuple((line.sku, line.qty) for line in order.lines)
    quotes = [
        q
        for node_id in view.nodes
        for q in book.legal(node_id, 2.0, datetime(2026, 1, 5, tzinfo=UTC))
    ]
    assert quotes
    for q in quotes[:10]:
        for new_work in (True, False):
            leg = leg_of(q, lines, new_work=new_work)
            assert leg == Leg(
                node=q.node,
                carrier_service=q.carrier_service,
                lines=lines,
                shipping=q.shipping_cost,
                handling=q.handling_cost,
                on_time_probability=q.on_time_probability,
                eta=q.eta,
                distance_km=q.distance_km,
                added_units=sum(qty for _, qty in lines) if new_work else 0,
                takes_stock=True,
                reliability=q.promise.reliability,
                transit_days=q.promise.transit_days,
                disrupted=q.promise.disrupted,
            )
            assert vars(leg).keys() == vars(Leg(**vars(leg))).keys()


def test_with_on_time_is_replace() -> None:
    leg = Leg(
        node="N",
        carrier_service="S",
        lines=(("A", 2),),
        shipping=3.0,
        handling=1.0,
        on_time_probability=0.9,
        eta=datetime(2026, 1, 5, tzinfo=UTC),
        reliability=0.95,
        transit_days=2.0,
    )
    moved = leg.with_on_time(0.5)
    assert moved == dataclasses.replace(leg, on_time_probability=0.5)
    assert leg.on_time_probability == 0.9
    assert list(vars(moved)) == list(vars(leg))
