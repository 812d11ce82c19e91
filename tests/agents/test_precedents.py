"""describe_situation and Precedent: deterministic words for a situation and a decision."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.precedents import Precedent, PrecedentOutcome, describe_situation
from tests.agents.llm_fakes import T0, candidate
from tools.decisions import (
    Action,
    ActionType,
    DecidedBy,
    Decision,
    DecisionStatus,
)
from tools.events import ExceptionEvent
from tools.inputs import load_event
from tools.view import NetworkView


def event(**fields) -> ExceptionEvent:
    base = {"id": "EX-1", "occurred_at": T0, "source": "wms"}
    return ExceptionEvent(**{**base, **fields})


def test_contract_examples_are_described(examples_dir: Path, northeast: NetworkView):
    texts = {
        path.stem: describe_situation(load_event(path), northeast)
        for path in sorted((examples_dir / "events").glob("*.json"))
    }
    assert texts["EX-P1"] == (
        "node_overload at STORE-BOS (store, NE) affecting 1 gold d2c order of SKU-TENT, 1 unit "
        "worth $189; utilisation 38%; earliest promise in 3.6 days"
    )
    assert texts["EX-P2"] == "carrier_disruption on carrier SWIFT in region NE; carrier on-time 93%"
    assert texts["EX-P4"].startswith("stockout at DC-NJ (dc, NE) for SKU-GLOVES affecting 1 silver")
    assert "inventory accuracy 99.5%" in texts["EX-P4"]
    # EX-P5 carries injection text, but it is an sla_risk: only unstructured text is quoted
    assert "Ignore" not in texts["EX-P5"]


def test_details_override_the_snapshot(northeast: NetworkView):
    text = describe_situation(
        event(
            type="node_overload",
            orders=["O-1001"],
            node="STORE-BOS",
            details={"backlog_units": 1300, "capacity_units_per_day": 400},
        ),
        northeast,
    )
    assert "utilisation 325%" in text
    assert "backlog units 1300" in text and "capacity units per day 400" in text


def test_affected_orders_of_a_scoped_event(northeast: NetworkView):
    scoped = event(type="node_outage", node="DC-NJ")
    assert "affecting" not in describe_situation(scoped, northeast)
    text = describe_situation(scoped, northeast, affected_orders=["O-1001", "O-1004", "O-X"])
    assert "affecting 2 orders (1 gold, 1 silver; 2 d2c)" in text
    assert "(+1 unknown)" in text


def test_unknown_ids_are_named_never_an_error(northeast: NetworkView):
    text = describe_situation(
        event(
            type="short_pick",
            orders=["O-NOPE"],
            node="STORE-NOPE",
            carrier="NOPE",
            details={"short_qty": "lots", "backlog_units": float("nan")},
        ),
        northeast,
    )
    assert "STORE-NOPE (unknown node)" in text
    assert "carrier NOPE (unknown carrier)" in text
    assert "affecting 1 unknown order" in text
    assert "short qty" not in text and "backlog" not in text


def test_hazmat_and_free_text_details(northeast: NetworkView):
    order = northeast.orders["O-1001"]
    fuel = order.model_copy(
        update={"lines": [order.lines[0].model_copy(update={"sku": "SKU-FUEL"})]}
    )
    snapshot = northeast.snapshot.model_copy(
        update={"orders": [fuel if o.id == "O-1001" else o for o in northeast.snapshot.orders]}
    )
    text = describe_situation(
        event(
            type="stockout",
            orders=["O-1001"],
            details={"restock_at": "2026-12-01T00:00:00Z\x00", "carrier_service": "SWIFT-AIR"},
        ),
        NetworkView.of(snapshot),
    )
    assert "of SKU-FUEL" in text and "hazmat" in text
    assert "restock at 2026-12-01T00:00:00Z" in text and "\x00" not in text
    assert "hazmat" not in describe_situation(event(type="stockout", orders=["O-1001"]), northeast)


def test_unstructured_text_is_quoted_cleaned_and_bounded(northeast: NetworkView):
    report = "Boston store\n is buried\x07 under a promo " + "x" * 500
    text = describe_situation(event(type="unstructured", text=report), northeast)
    assert text.startswith('unstructured; report: "Boston store is buried under a promo')
    assert len(text) < 260


def test_same_input_same_words(northeast: NetworkView):
    e = event(type="sla_risk", orders=["O-1001", "O-1004"], node="STORE-BOS")
    assert describe_situation(e, northeast) == describe_situation(e, northeast)


def test_precedent_from_decision():
    chosen = candidate("O-1001:c1", "reallocate", 12.4, node="DC-NJ", cost_delta=3.1)
    decision = Decision(
        exception_id="EX-1",
        status=DecisionStatus.AUTO_RESOLVED,
        actions=[
            Action(
                type=ActionType.REALLOCATE,
                order="O-1001",
                node="DC-NJ",
                carrier_service="PARCELCO-TWO_DAY",
                cost_delta=3.104,
            ),
            Action(type=ActionType.NOTIFY_CUSTOMER, order="O-1001", cost_delta=0.0),
        ],
        candidates=[chosen],
        chosen="O-1001:c1",
        policy_version="default-2026-11",
        decided_by=DecidedBy.LLM,
        decided_at=datetime(2026, 11, 24, 9, 6, tzinfo=UTC),
    )
    e = event(type="node_overload", orders=["O-1001"], node="STORE-BOS")
    p = Precedent.from_decision(decision, e, "node_overload at STORE-BOS")
    assert p.exception_id == "EX-1"
    assert p.chosen_kind == "reallocate"
    assert p.decided_by is DecidedBy.LLM
    assert p.cost_delta == 3.1
    assert p.actions_summary == (
        "reallocate O-1001 -> DC-NJ via PARCELCO-TWO_DAY; notify_customer O-1001"
    )
    assert p.recorded_at == decision.decided_at
    undated = decision.model_copy(update={"decided_at": None})
    assert Precedent.from_decision(undated, e, "x").recorded_at == T0  # never the wall clock
    escalated = decision.model_copy(
        update={"status": DecisionStatus.ESCALATED, "actions": [], "chosen": None}
    )
    line = Precedent.from_decision(escalated, e, "x").line()
    assert line == "[EX-1] x -> escalated by llm: no action; cost delta +0.00"
    with_outcome = p.model_copy(update={"outcome": PrecedentOutcome(promise_kept=True)})
    assert with_outcome.line().endswith("outcome: promise kept")


def test_precedent_rejects_bad_fields():
    with pytest.raises(ValueError, match="text"):
        Precedent(
            exception_id="EX-1",
            event_type="node_overload",
            text="",
            status="auto_resolved",
            recorded_at=T0,
        )
    with pytest.raises(ValueError, match="recorded_at"):
        Precedent(
            exception_id="EX-1",
            event_type="node_overload",
            text="x",
            status="auto_resolved",
            recorded_at=datetime(2026, 1, 1),  # naive: refused
        )
