"""Candidate generation on the contract's example network."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.tools.sourcing.builders import make_event
from tools.decisions import ActionType, Candidate
from tools.events import EventType
from tools.network import Channel, NetworkSnapshot
from tools.priorities import BusinessPriorities
from tools.sourcing.candidates import UnknownOrderError, generate_candidates
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.options import OrderContext
from tools.sourcing.situation import Situation, apply_event
from tools.view import NetworkView

AIR_SERVICES = {"PARCELCO-TWO_DAY", "PARCELCO-OVERNIGHT"}


def candidates_for(
    view: NetworkView,
    order: str,
    limits: SourcingLimits | None = None,
    **event: Any,
) -> list[Candidate]:
    new_view, sit = apply_event(view, make_event(orders=[order], **event))
    return generate_candidates(
        new_view, sit, order, BusinessPriorities(), limits or SourcingLimits()
    )


def nodes_used(cands: list[Candidate]) -> set[str]:
    return {n for c in cands for a in c.actions for n in a.nodes()}


def services_used(cands: list[Candidate]) -> set[str]:
    return {s for c in cands for a in c.actions for s in a.carrier_services()}


def with_changes(view: NetworkView, **changes: Any) -> NetworkView:
    snap = view.snapshot
    update: dict[str, Any] = {}
    if "orders" in changes:
        update["orders"] = [changes["orders"].get(o.id, o) for o in snap.orders]
    if "nodes" in changes:
        update["nodes"] = [
            n.model_copy(update=changes["nodes"][n.id]) if n.id in changes["nodes"] else n
            for n in snap.nodes
        ]
    return NetworkView.of(
        NetworkSnapshot.model_validate(snap.model_copy(update=update).model_dump())
    )


def test_overloaded_store_moves_the_order_elsewhere_within_25(view: NetworkView) -> None:
    cands = candidates_for(
        view, "O-1001", type="node_overload", node="STORE-BOS", details={"backlog_units": 1300}
    )
    best = cands[0]
    assert best.kind == "reallocate"
    assert best.actions[0].type is ActionType.REALLOCATE
    assert best.actions[0].node != "STORE-BOS" and best.actions[0].from_node == "STORE-BOS"
    assert best.cost_delta <= 25.0
    assert best.units_by_node == best.capacity_by_node == {best.actions[0].node: 1}
    keep = next(c for c in cands if c.kind == "keep")
    assert keep.score.total > best.score.total
    assert keep.actions[0].type is ActionType.HOLD and keep.cost_delta == 0.0
    assert keep.units_by_node == {}
    # A readable summary with money, arrival and punctuality.
    assert best.summary.startswith("Move O-1001 to ") and "on time" in best.summary


def test_ids_are_stable_sorted_and_deterministic(view: NetworkView) -> None:
    first = candidates_for(view, "O-1001", type="node_overload", details={"backlog_units": 1300})
    again = candidates_for(view, "O-1001", type="node_overload", details={"backlog_units": 1300})
    assert [c.model_dump() for c in first] == [c.model_dump() for c in again]
    assert [c.id for c in first] == [f"O-1001:c{i}" for i in range(1, len(first) + 1)]
    totals = [c.score.total for c in first]
    assert totals == sorted(totals)
    assert all(c.orders == ["O-1001"] for c in first)
    assert all(a.order == "O-1001" for c in first for a in c.actions)


def test_gloves_with_no_stock_get_backorder_and_cancel_only(
    view: NetworkView, example_event
) -> None:  # type: ignore[no-untyped-def]
    new_view, sit = apply_event(view, example_event("EX-P4"))
    cands = generate_candidates(new_view, sit, "O-1004", BusinessPriorities(), SourcingLimits())
    kinds = {c.kind for c in cands}
    assert kinds <= {"backorder", "cancel_lines", "repromise"}
    assert {"backorder", "cancel_lines"} <= kinds
    backorder = next(c for c in cands if c.kind == "backorder")
    types = [a.type for a in backorder.actions]
    assert types == [ActionType.BACKORDER, ActionType.NOTIFY_CUSTOMER]
    assert backorder.actions[0].promised_by is not None
    assert backorder.actions[0].promised_by > new_view.orders["O-1004"].promised_by
    cancel = next(c for c in cands if c.kind == "cancel_lines")
    assert [a.type for a in cancel.actions] == [ActionType.CANCEL_LINES, ActionType.NOTIFY_CUSTOMER]
    # Lost margin (24 - 8) + silver cancellation goodwill 60.
    assert cancel.score.margin_impact == 76.0


def test_b2b_kayaks_never_go_to_a_marketplace_seller_or_by_swift(
    view: NetworkView, example_event
) -> None:  # type: ignore[no-untyped-def]
    new_view, sit = apply_event(view, example_event("EX-P3"))
    cands = generate_candidates(new_view, sit, "O-1003", BusinessPriorities(), SourcingLimits())
    assert cands and cands[0].kind == "reallocate"
    assert not nodes_used(cands) & {"MKT-NEWARK", "3PL-EAST"}
    # 3 x 22 kg = 66 kg: over SWIFT's 45 kg limit.
    assert not {s for s in services_used(cands) if s.startswith("SWIFT")}
    # The marketplace rule is what keeps MKT-NEWARK out:
    loose = generate_candidates(
        new_view,
        sit,
        "O-1003",
        BusinessPriorities(),
        SourcingLimits(forbid_b2b_to_marketplace=False),
    )
    assert "MKT-NEWARK" in nodes_used(loose)


def test_hazmat_never_flies(view: NetworkView) -> None:
    order = view.orders["O-1002"]
    fuel = order.model_copy(
        update={"lines": [order.lines[0].model_copy(update={"sku": "SKU-FUEL"})]}
    )
    hazmat_view = with_changes(view, orders={"O-1002": fuel})
    strict = candidates_for(hazmat_view, "O-1002", type="booking_failed")
    assert strict and not services_used(strict) & AIR_SERVICES
    # The rule is what removes the air services: without it they are quoted.
    sit = Situation.for_orders(hazmat_view, ["O-1002"])
    for rule, expect_air in ((True, False), (False, True)):
        ctx = OrderContext(
            hazmat_view,
            sit,
            fuel,
            BusinessPriorities(),
            SourcingLimits(forbid_hazmat_by_air=rule),
        )
        quoted = {q.carrier_service for q in ctx.quotes("DC-NJ", ctx.lines)}
        assert bool(quoted & AIR_SERVICES) is expect_air


@pytest.mark.parametrize(
    ("limits", "forbidden"),
    [
        (SourcingLimits(carrier_deny={"NE": frozenset({"PARCELCO"})}), "PARCELCO"),
        (SourcingLimits(carrier_deny={"*": frozenset({"SWIFT"})}), "SWIFT"),
        (SourcingLimits(carrier_allow={"*": frozenset({"SWIFT"})}), "PARCELCO"),
    ],
)
def test_carrier_lists_are_respected(
    view: NetworkView, limits: SourcingLimits, forbidden: str
) -> None:
    cands = candidates_for(view, "O-1005", limits, type="node_outage", node="DC-NJ")
    assert cands
    assert not {s for s in services_used(cands) if s.startswith(forbidden)}


def test_split_when_no_single_node_has_everything(view: NetworkView) -> None:
    order = view.orders["O-1002"]  # 2 lanterns, d2c, NYC
    mixed = order.model_copy(
        update={
            "lines": [
                order.lines[0],
                order.lines[0].model_copy(update={"sku": "SKU-KAYAK", "qty": 1}),
            ]
        }
    )
    split_view = with_changes(view, orders={"O-1002": mixed})
    cands = candidates_for(split_view, "O-1002", type="node_outage", node="DC-NJ")
    splits = [c for c in cands if c.kind == "split"]
    assert splits, [c.summary for c in cands]
    legs = splits[0].actions[0].legs
    assert legs is not None and 2 <= len(legs) <= 2
    assert {x.sku for leg in legs for x in leg.lines} == {"SKU-LANTERN", "SKU-KAYAK"}
    assert splits[0].score.split_penalty == 6.0
    assert set(splits[0].units_by_node) == {leg.node for leg in legs}
    # Without splits the order cannot ship whole: cancel what the best node lacks, or wait.
    single = candidates_for(
        split_view, "O-1002", SourcingLimits(max_split_nodes=1), type="node_outage", node="DC-NJ"
    )
    assert not [c for c in single if c.kind == "split"]
    assert {"backorder", "cancel_lines"} <= {c.kind for c in single}


def test_transfer_when_the_stock_sits_where_it_cannot_ship_the_order(view: NetworkView) -> None:
    b2b_only = {
        n: {"channels": [Channel.B2B]}
        for n in ("DC-NJ", "DC-PA", "STORE-CAM", "STORE-PVD", "STORE-NYC")
    }
    transfer_view = with_changes(view, nodes=b2b_only)
    cands = candidates_for(
        transfer_view, "O-1001", type="stockout", node="STORE-BOS", sku="SKU-TENT"
    )
    transfers = [c for c in cands if c.kind == "transfer_inventory"]
    assert transfers, [c.summary for c in cands]
    move, ship = transfers[0].actions
    assert move.type is ActionType.TRANSFER_INVENTORY
    assert move.from_node in b2b_only and move.node == "STORE-BOS"
    assert ship.node == "STORE-BOS" and ship.eta is not None and move.eta is not None
    assert ship.eta > move.eta
    assert transfers[0].units_by_node == {move.from_node: 1}
    assert not [c for c in cands if c.kind == "reallocate"]


def test_repromise_when_nothing_can_make_the_promise(view: NetworkView) -> None:
    order = view.orders["O-1003"]
    tight = order.model_copy(update={"promised_by": datetime(2026, 11, 25, 12, 0, tzinfo=UTC)})
    tight_view = with_changes(view, orders={"O-1003": tight})
    cands = candidates_for(tight_view, "O-1003", type="sla_risk")
    repromises = [c for c in cands if c.kind == "repromise"]
    assert repromises
    r = repromises[0]
    types = [a.type for a in r.actions]
    assert ActionType.REPROMISE in types and types[-1] is ActionType.NOTIFY_CUSTOMER
    new_promise = next(a.promised_by for a in r.actions if a.type is ActionType.REPROMISE)
    assert r.eta is not None and new_promise is not None
    assert new_promise >= r.eta and (new_promise.hour, new_promise.minute) == (23, 59)
    assert r.on_time_probability == 0.0  # against the original promise
    assert r.score.promise_change > 0
    capped = candidates_for(
        tight_view, "O-1003", SourcingLimits(max_repromise_days=0.5), type="sla_risk"
    )
    assert not [c for c in capped if c.kind == "repromise"]


def test_cutoff_missed_delays_keep(view: NetworkView) -> None:
    before = candidates_for(view, "O-1001", type="sla_risk", occurred_at="2026-11-24T20:05:00Z")
    after = candidates_for(
        view,
        "O-1001",
        type="cutoff_missed",
        occurred_at="2026-11-24T20:05:00Z",
        details={"next_departure_at": "2026-11-26T20:00:00Z"},
    )
    keep_before = next(c for c in before if c.kind == "keep")
    keep_after = next(c for c in after if c.kind == "keep")
    assert keep_before.eta is not None and keep_after.eta is not None
    assert keep_after.eta > keep_before.eta


def test_booking_failed_rebooks_on_another_service(view: NetworkView) -> None:
    cands = candidates_for(view, "O-1002", type="booking_failed")
    assert "SWIFT-GROUND" not in services_used(cands)
    assert not [c for c in cands if c.kind == "keep"]
    rebook = next(c for c in cands if c.kind == "rebook")
    assert rebook.actions[0].type is ActionType.BOOK_CARRIER
    assert rebook.actions[0].node == "DC-NJ" and rebook.units_by_node == {}


def test_outage_never_proposes_the_closed_node(view: NetworkView) -> None:
    cands = candidates_for(view, "O-1005", type="node_outage", node="DC-NJ")
    assert cands and "DC-NJ" not in nodes_used(cands)


@pytest.mark.parametrize("event_type", [t for t in EventType if t is not EventType.UNSTRUCTURED])
@pytest.mark.parametrize("order", ["O-1001", "O-1002", "O-1003", "O-1004", "O-1005"])
def test_never_empty(view: NetworkView, event_type: EventType, order: str) -> None:
    cands = candidates_for(view, order, type=event_type.value)
    assert cands
    for c in cands:
        assert (
            c.actions
            and c.summary
            and c.score.total
            == pytest.approx(
                sum(
                    getattr(c.score, t)
                    for t in (
                        "shipping",
                        "handling",
                        "lateness_risk",
                        "split_penalty",
                        "inventory_risk",
                        "node_strain",
                        "margin_impact",
                        "promise_change",
                    )
                ),
                abs=0.011,
            )
        )


def test_max_candidates_keeps_the_best_of_each_kind(view: NetworkView) -> None:
    new_view, sit = apply_event(
        view, make_event(type="node_overload", orders=["O-1001"], details={"backlog_units": 1300})
    )
    everything = generate_candidates(
        new_view, sit, "O-1001", BusinessPriorities(), SourcingLimits()
    )
    few = generate_candidates(
        new_view, sit, "O-1001", BusinessPriorities(), SourcingLimits(), max_candidates=4
    )
    assert len(few) == 4
    assert few[0].summary == everything[0].summary
    assert {c.kind for c in few} == {c.kind for c in everything} or len(
        {c.kind for c in everything}
    ) > 4


def test_unknown_order_is_a_clear_error(view: NetworkView) -> None:
    sit = Situation.for_orders(view, ["O-1001"])
    with pytest.raises(UnknownOrderError, match="unknown order 'O-404'"):
        generate_candidates(view, sit, "O-404", BusinessPriorities(), SourcingLimits())


def test_no_candidate_overloads_a_node(view: NetworkView) -> None:
    tight = SourcingLimits(max_node_utilization=0.3)  # STORE-NYC is at 40 %
    cands = candidates_for(view, "O-1001", tight, type="node_outage", node="STORE-BOS")
    for c in cands:
        for node_id, units in c.capacity_by_node.items():
            node = view.nodes[node_id]
            assert (node.backlog_units + units) / node.capacity_units_per_day <= 0.3
    assert "STORE-NYC" not in {n for c in cands for n in c.capacity_by_node}
    loose = candidates_for(view, "O-1001", type="node_outage", node="STORE-BOS")
    assert "STORE-NYC" in {n for c in loose for n in c.capacity_by_node}


def test_equal_scores_break_ties_deterministically(view: NetworkView) -> None:
    """Two identical stores: equal expected costs, always listed in the same order."""
    snap = view.snapshot
    cam = next(n for n in snap.nodes if n.id == "STORE-CAM")
    twin_positions = [
        p.model_copy(update={"node": "STORE-CAM2"}) for p in snap.inventory if p.node == "STORE-CAM"
    ]
    twin = NetworkView.of(
        NetworkSnapshot.model_validate(
            snap.model_copy(
                update={
                    "nodes": [*snap.nodes, cam.model_copy(update={"id": "STORE-CAM2"})],
                    "inventory": [*snap.inventory, *twin_positions],
                }
            ).model_dump()
        )
    )
    runs = [
        candidates_for(twin, "O-1001", type="node_overload", details={"backlog_units": 1300})
        for _ in range(3)
    ]
    assert all([c.summary for c in r] == [c.summary for c in runs[0]] for r in runs)
    cam_first = [c for c in runs[0] if c.actions[0].node in ("STORE-CAM", "STORE-CAM2")]
    totals = {(c.actions[0].carrier_service, c.score.total) for c in cam_first}
    assert len(totals) == len(cam_first) // 2  # each service priced the same at both
    order = [c.actions[0].node for c in cam_first]
    for i in range(0, len(order), 2):
        assert order[i : i + 2] == ["STORE-CAM", "STORE-CAM2"]
