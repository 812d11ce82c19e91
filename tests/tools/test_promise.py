"""The promise tool against the contract's formulas, computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tools.geo import great_circle_km
from tools.network import Carrier, CarrierService, Node, NodeStatus, ShipTo
from tools.promise import departure_at, estimate, on_time_probability

# One degree of latitude on the mean sphere: 2*pi*6371.0088/360 km.
KM_PER_DEGREE = 111.19508


def node(**kw) -> Node:
    base = {
        "id": "N",
        "kind": "dc",
        "region": "NE",
        "lat": 0.0,
        "lon": 0.0,
        "status": "open",
        "channels": ["d2c"],
        "capacity_units_per_day": 400,
        "backlog_units": 200,
        "handling_cost_per_order": 4.0,
        "processing_days": 0.5,
        "cutoff_hour_utc": 20,
        "inventory_accuracy": 0.9,
    }
    base.update(kw)
    return Node.model_validate(base)


CARRIER = Carrier(
    id="C",
    regions=["NE"],
    on_time_rate=0.9,
    disrupted_regions=[],
    services=[
        CarrierService(
            id="C-G",
            level="ground",
            mode="ground",
            base_rate=7.0,
            rate_per_kg=0.6,
            rate_per_100km=0.9,
            transit_days_base=1.0,
            transit_days_per_1000km=1.2,
            max_weight_kg=68,
            max_distance_km=None,
        )
    ],
)


def test_great_circle_one_degree_of_latitude() -> None:
    assert great_circle_km(0, 0, 1, 0) == pytest.approx(KM_PER_DEGREE, rel=1e-6)


def test_times_follow_the_contract_formulas() -> None:
    # release 09:00; ready = 09:00 + 0.5 d processing + 200/400 = 0.5 d queue -> next day 09:00
    # departs at that day's 20:00 cut-off; 9 degrees north = 1000.756 km
    # transit = 1.0 + 1.2 * 1.000756 = 2.2009 d = 2 d 4 h 49 m 18.8 s
    release = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    promised = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    est = estimate(
        node(),
        CARRIER,
        CARRIER.services[0],
        ShipTo(lat=9.0, lon=0.0, region="NE"),
        promised,
        release,
    )
    assert est is not None
    assert est.ready_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert est.departs_at == datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert est.distance_km == pytest.approx(9 * KM_PER_DEGREE, rel=1e-6)
    assert est.transit_days == pytest.approx(1.0 + 1.2 * 9 * KM_PER_DEGREE / 1000)
    assert est.arrives_at.replace(microsecond=0) == datetime(2026, 11, 28, 0, 49, 18, tzinfo=UTC)
    assert not est.on_time  # 49 minutes past midnight on the promised day
    assert est.on_time_probability == 0.0


def test_departure_waits_for_next_day_after_cutoff() -> None:
    assert departure_at(datetime(2026, 1, 1, 20, 0, tzinfo=UTC), 20) == datetime(
        2026, 1, 1, 20, 0, tzinfo=UTC
    )
    assert departure_at(datetime(2026, 1, 1, 20, 1, tzinfo=UTC), 20) == datetime(
        2026, 1, 2, 20, 0, tzinfo=UTC
    )
    assert departure_at(datetime(2026, 1, 1, 3, 0, tzinfo=UTC), 20) == datetime(
        2026, 1, 1, 20, 0, tzinfo=UTC
    )


def test_closed_node_never_ships() -> None:
    release = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert (
        estimate(
            node(status=NodeStatus.CLOSED),
            CARRIER,
            CARRIER.services[0],
            ShipTo(lat=1, lon=0, region="NE"),
            release,
            release,
        )
        is None
    )


def test_probability_folds_in_reliability_and_disruption() -> None:
    # with lots of slack nearly every late shipment still makes it
    assert on_time_probability(0.9, 30.0, 1.0) == pytest.approx(1.0, abs=1e-4)
    # exactly on the nominal time: only the carrier's reliability
    assert on_time_probability(0.9, 0.0, 1.0) == pytest.approx(0.9)
    # disruption halves reliability
    assert on_time_probability(0.9, 0.0, 1.0, disrupted=True) == pytest.approx(0.45)
    # more slack never hurts
    probs = [on_time_probability(0.8, s / 4, 2.0) for s in range(40)]
    assert probs == sorted(probs)
