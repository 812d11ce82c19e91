"""apply_event: what each event type changes in the view and in the situation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.tools.sourcing.builders import make_event
from tools.events import EventType
from tools.inputs import InputError
from tools.network import NodeStatus, OrderStatus
from tools.sourcing.situation import Situation, apply_event
from tools.view import NetworkView


def test_release_at_is_the_event_time_in_utc(view: NetworkView) -> None:
    event = make_event(orders=["O-1001"], occurred_at="2026-11-24T10:05:00+01:00")
    _, sit = apply_event(view, event)
    assert sit.release_at == datetime(2026, 11, 24, 9, 5, tzinfo=UTC)
    assert sit.release_at.utcoffset() is not None
    assert sit.event_type is EventType.SLA_RISK


def test_sla_risk_changes_nothing(view: NetworkView) -> None:
    new_view, sit = apply_event(view, make_event(orders=["O-1001"]))
    assert new_view is view
    assert sit.affected_orders == ("O-1001",)
    assert not sit.current_allocation_broken


def test_node_overload_overwrites_backlog_and_capacity_but_breaks_nothing(
    view: NetworkView,
) -> None:
    event = make_event(
        type="node_overload",
        orders=["O-1001"],
        node="STORE-BOS",
        details={"backlog_units": 1300, "capacity_units_per_day": "350", "other": [1, 2]},
    )
    new_view, sit = apply_event(view, event)
    node = new_view.nodes["STORE-BOS"]
    assert (node.backlog_units, node.capacity_units_per_day) == (1300, 350)
    assert view.nodes["STORE-BOS"].backlog_units == 150  # the input view is untouched
    assert not sit.current_allocation_broken
    assert any("371%" in n for n in sit.notes)


@pytest.mark.parametrize("odd", [-5, "lots", None, True, [1], {"a": 1}, float("nan")])
def test_odd_detail_values_are_ignored_not_fatal(view: NetworkView, odd: object) -> None:
    event = make_event(type="node_overload", orders=["O-1001"], details={"backlog_units": odd})
    new_view, sit = apply_event(view, event)
    assert new_view.nodes["STORE-BOS"].backlog_units == 150
    if odd is not None:
        assert any("ignored details.backlog_units" in n for n in sit.notes)


def test_node_outage_closes_the_node_and_breaks_its_orders(view: NetworkView) -> None:
    event = make_event(type="node_outage", node="DC-NJ")
    new_view, sit = apply_event(view, event)
    assert new_view.nodes["DC-NJ"].status is NodeStatus.CLOSED
    # Scoped: every actionable order allocated to DC-NJ, in snapshot order.
    assert sit.affected_orders == ("O-1002", "O-1004", "O-1005")
    assert sit.current_allocation_broken == {"O-1002", "O-1004", "O-1005"}
    assert "closed" in sit.broken_reasons["O-1002"]


def test_stockout_zeroes_the_position_and_breaks_the_allocation(view: NetworkView) -> None:
    event = make_event(type="stockout", orders=["O-1005"], node="DC-NJ", sku="SKU-TENT")
    new_view, sit = apply_event(view, event)
    pos = new_view.position("DC-NJ", "SKU-TENT")
    assert pos is not None and pos.on_hand == 0 and pos.reserved == 0
    assert sit.is_broken("O-1005")
    # The node may still receive stock (transfer), so it is not on the avoid list.
    assert "DC-NJ" not in sit.avoid("O-1005")


def test_short_pick_removes_units_and_breaks_only_when_the_node_cannot_cover(
    view: NetworkView,
) -> None:
    # STORE-BOS has 12 tents (2 reserved): one missing tent leaves enough for O-1001.
    _, sit = apply_event(view, make_event(type="short_pick", orders=["O-1001"]))
    assert not sit.is_broken("O-1001")
    # Eleven missing leaves one on hand for two reserved units: it cannot cover.
    new_view, sit = apply_event(
        view, make_event(type="short_pick", orders=["O-1001"], details={"short_qty": 11})
    )
    pos = new_view.position("STORE-BOS", "SKU-TENT")
    assert pos is not None and pos.on_hand == 1
    assert sit.is_broken("O-1001")


def test_cutoff_missed_sets_the_next_departure_and_keeps_the_allocation(
    view: NetworkView,
) -> None:
    event = make_event(type="cutoff_missed", orders=["O-1001"], occurred_at="2026-11-24T20:05:00Z")
    _, sit = apply_event(view, event)
    assert sit.not_before["STORE-BOS"] == datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert not sit.current_allocation_broken
    explicit = make_event(
        type="cutoff_missed",
        orders=["O-1001"],
        details={"next_departure_at": "2026-11-26T20:00:00Z"},
    )
    _, sit = apply_event(view, explicit)
    assert sit.not_before["STORE-BOS"] == datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def test_carrier_disruption_scoped_by_region(view: NetworkView, example_event) -> None:  # type: ignore[no-untyped-def]
    new_view, sit = apply_event(view, example_event("EX-P2"))
    assert "NE" in new_view.carriers["SWIFT"].disrupted_regions
    assert sit.affected_orders == ("O-1002", "O-1005")
    assert sit.current_allocation_broken == {"O-1002", "O-1005"}


def test_carrier_disruption_without_region_covers_all_its_regions(view: NetworkView) -> None:
    new_view, sit = apply_event(view, make_event(type="carrier_disruption", carrier="SWIFT"))
    assert set(new_view.carriers["SWIFT"].disrupted_regions) == {"NE", "SE", "MW", "W"}
    assert sit.affected_orders == ("O-1002", "O-1005")


def test_partner_rejected_avoids_the_node(view: NetworkView, example_event) -> None:  # type: ignore[no-untyped-def]
    _, sit = apply_event(view, example_event("EX-P3"))
    assert sit.avoid("O-1003") == {"3PL-EAST"}
    assert sit.is_broken("O-1003")


def test_booking_failed_marks_services_unbookable(view: NetworkView) -> None:
    _, sit = apply_event(view, make_event(type="booking_failed", orders=["O-1002"]))
    assert sit.unbookable_services == {"SWIFT-GROUND"}
    assert sit.is_broken("O-1002")
    _, sit = apply_event(
        view, make_event(type="booking_failed", orders=["O-1001"], carrier="SWIFT")
    )
    assert sit.unbookable_services == {"SWIFT-GROUND", "SWIFT-TWO_DAY"}
    assert not sit.is_broken("O-1001")  # it ships with PARCELCO
    _, sit = apply_event(
        view,
        make_event(
            type="booking_failed",
            orders=["O-1001"],
            details={"carrier_service": "PARCELCO-GROUND"},
        ),
    )
    assert sit.unbookable_services == {"PARCELCO-GROUND"} and sit.is_broken("O-1001")


def test_scope_filters_are_anded(view: NetworkView) -> None:
    _, sit = apply_event(view, make_event(type="sla_risk", node="DC-NJ", sku="SKU-TENT"))
    assert sit.affected_orders == ("O-1005",)
    _, sit = apply_event(view, make_event(type="sla_risk", region="MW"))
    assert sit.affected_orders == ("O-1003",)
    _, sit = apply_event(view, make_event(type="sla_risk", node="DC-NJ", region="MW"))
    assert sit.affected_orders == ()
    assert any("no actionable order" in n for n in sit.notes)


def test_unknown_references_are_named_and_nothing_changes(view: NetworkView) -> None:
    with pytest.raises(InputError) as caught:
        apply_event(view, make_event(orders=["O-1001", "O-9"], node="NOPE"))
    assert "orders[1]: unknown order 'O-9'" in str(caught.value)
    assert "node: unknown node 'NOPE'" in str(caught.value)


def test_unstructured_events_are_not_for_sourcing(view: NetworkView) -> None:
    with pytest.raises(ValueError, match="perception"):
        apply_event(view, make_event(type="unstructured", text="the truck never came"))


def test_orders_no_longer_actionable_are_skipped(view: NetworkView) -> None:
    shipped = view.snapshot.model_copy(
        update={
            "orders": [
                o.model_copy(update={"status": OrderStatus.SHIPPED}) if o.id == "O-1001" else o
                for o in view.snapshot.orders
            ]
        }
    )
    _, sit = apply_event(NetworkView.of(shipped), make_event(orders=["O-1001", "O-1002"]))
    assert sit.affected_orders == ("O-1002",)
    assert sit.skipped_orders == ("O-1001",)


def test_restock_date_from_details(view: NetworkView) -> None:
    _, sit = apply_event(
        view, make_event(type="stockout", orders=["O-1004"], details={"restock_days": 3})
    )
    assert sit.restock_at == datetime(2026, 11, 27, 9, 5, tzinfo=UTC)
    _, sit = apply_event(
        view,
        make_event(type="stockout", orders=["O-1004"], details={"restock_at": "2026-12-01"}),
    )
    assert sit.restock_at == datetime(2026, 12, 1, tzinfo=UTC)


def test_situation_for_orders_without_an_event(view: NetworkView) -> None:
    sit = Situation.for_orders(view, ["O-1001"])
    assert sit.release_at == view.as_of and sit.affected_orders == ("O-1001",)
    with pytest.raises(InputError):
        Situation.for_orders(view, ["O-404"])
