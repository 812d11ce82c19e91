"""The learning curve's world: a seeded network (2 DCs, 3 carriers) and a stream of
exceptions each resolved by choosing a carrier service, with the truth behind each (see
`evals.learning` for the experiment)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from evals.cases import Truth
from tools.events import EventType, ExceptionEvent
from tools.network import (
    Allocation,
    Carrier,
    CarrierService,
    Channel,
    CustomerTier,
    InventoryPosition,
    NetworkSnapshot,
    Node,
    NodeKind,
    Order,
    OrderLine,
    OrderStatus,
    ServiceLevel,
    ShipTo,
    Sku,
    TransportMode,
)
from tools.promise import estimate
from tools.view import lane_key

Family = Literal["sla_risk", "cutoff_missed", "carrier_disruption"]
FAMILIES: tuple[Family, ...] = ("sla_risk", "cutoff_missed", "carrier_disruption")
FAMILY_WEIGHTS = (0.5, 0.3, 0.2)

START = datetime(2026, 11, 2, tzinfo=UTC)
DAY = timedelta(days=1)
# Carriers' true on-time rates outside the degradation (what the records also say, roughly).
BASE_TRUTH = {"PARCELCO": 0.95, "SWIFT": 0.93, "REGIONAL": 0.90}
DEGRADED_CARRIER = "PARCELCO"
REGIONAL_CARRIER = "REGIONAL"
# Customers: (city, lat, lon, region). Each region is served by its own DC.
CITIES: dict[str, list[tuple[str, float, float]]] = {
    "NE": [
        ("Boston", 42.36, -71.06),
        ("Providence", 41.82, -71.41),
        ("Hartford", 41.76, -72.68),
        ("New York", 40.71, -74.01),
        ("Philadelphia", 39.95, -75.17),
        ("Albany", 42.65, -73.76),
        ("Baltimore", 39.29, -76.61),
        ("Pittsburgh", 40.44, -79.99),
    ],
    "SE": [
        ("Charlotte", 35.23, -80.84),
        ("Nashville", 36.16, -86.78),
        ("Birmingham", 33.52, -86.81),
        ("Jacksonville", 30.33, -81.66),
        ("Savannah", 32.08, -81.09),
        ("Raleigh", 35.78, -78.64),
        ("Orlando", 28.54, -81.38),
    ],
}
DC_OF_REGION = {"NE": "DC-NE", "SE": "DC-SE"}


class LearningConfig(BaseModel):
    """What the learning-curve scenario is made of; every field has a sensible default."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=600, ge=20, description="exceptions in the stream")
    seed: int = 7
    window: int = Field(default=50, ge=5, description="exceptions per reported window")
    degrade_at: float = Field(default=0.5, gt=0.0, lt=1.0, description="fraction of the stream")
    carrier: str = DEGRADED_CARRIER
    region: Literal["NE", "SE"] = "NE"
    reliability_before: float = Field(default=0.95, ge=0.0, le=1.0)
    reliability_after: float = Field(default=0.45, ge=0.0, le=1.0)
    ne_share: float = Field(default=0.6, ge=0.0, le=1.0, description="orders shipping to NE")
    events_per_day: int = Field(
        default=12, ge=1, le=72, description="exceptions a day (outcomes arrive days later)"
    )

    @property
    def degrade_index(self) -> int:
        return int(self.n * self.degrade_at)


# ---------------------------------------------------------------------------- the network
def _service(
    carrier: str, level: ServiceLevel, base: float, transit_base: float, per_1000: float
) -> CarrierService:
    air = level in (ServiceLevel.OVERNIGHT, ServiceLevel.SAME_DAY)
    return CarrierService(
        id=f"{carrier}-{level.value.upper()}",
        level=level,
        mode=TransportMode.AIR if air else TransportMode.GROUND,
        base_rate=base,
        rate_per_kg=0.5,
        rate_per_100km=0.6,
        transit_days_base=transit_base,
        transit_days_per_1000km=per_1000,
        max_weight_kg=68,
    )


def scenario_carriers() -> list[Carrier]:
    """PARCELCO and SWIFT serve everything (ground: same speed, PARCELCO $1.50 cheaper;
    overnight: 1.1+ days faster, a few dollars more); REGIONAL is a pricier ground carrier
    some orders were booked on, whose disruptions force a rebooking."""
    regions = ["NE", "SE"]
    return [
        Carrier(
            id="PARCELCO",
            regions=regions,
            on_time_rate=0.95,
            services=[
                _service("PARCELCO", ServiceLevel.GROUND, 6.0, 1.5, 1.0),
                _service("PARCELCO", ServiceLevel.OVERNIGHT, 9.5, 0.5, 0.05),
            ],
        ),
        Carrier(
            id="SWIFT",
            regions=regions,
            on_time_rate=0.93,
            services=[
                _service("SWIFT", ServiceLevel.GROUND, 7.5, 1.5, 1.0),
                _service("SWIFT", ServiceLevel.OVERNIGHT, 9.5, 0.5, 0.05),
            ],
        ),
        Carrier(
            id=REGIONAL_CARRIER,
            regions=regions,
            on_time_rate=0.90,
            services=[_service(REGIONAL_CARRIER, ServiceLevel.GROUND, 9.0, 1.5, 1.0)],
        ),
    ]


SKUS = [
    Sku(id="SKU-JACKET", weight_kg=1.2, unit_cost=70.0),
    Sku(id="SKU-BOOTS", weight_kg=1.8, unit_cost=60.0),
    Sku(id="SKU-TENT", weight_kg=4.5, unit_cost=90.0),
    Sku(id="SKU-STOVE", weight_kg=2.0, unit_cost=50.0),
]
PRICES = {"SKU-JACKET": 189.0, "SKU-BOOTS": 149.0, "SKU-TENT": 259.0, "SKU-STOVE": 129.0}


def scenario_nodes() -> list[Node]:
    def dc(node_id: str, region: str, lat: float, lon: float) -> Node:
        return Node(
            id=node_id,
            kind=NodeKind.DC,
            region=region,
            lat=lat,
            lon=lon,
            channels=[Channel.D2C, Channel.MARKETPLACE],
            capacity_units_per_day=50_000,
            backlog_units=0,
            handling_cost_per_order=2.5,
            processing_days=0.25,
            cutoff_hour_utc=20,
            inventory_accuracy=0.999,
        )

    return [dc("DC-NE", "NE", 40.73, -74.17), dc("DC-SE", "SE", 33.75, -84.39)]


# ---------------------------------------------------------------------------- the stream
@dataclass(frozen=True)
class StreamItem:
    """One exception of the stream, with the order it is about and the truth behind it."""

    index: int
    family: Family
    event: ExceptionEvent
    order_id: str
    region: str
    degraded: bool  # the degradation is in force for this case

    def truth(self, config: LearningConfig) -> Truth:
        return Truth(carrier_on_time=true_reliability(config, self.degraded))


@dataclass(frozen=True)
class Scenario:
    config: LearningConfig
    snapshot: NetworkSnapshot
    stream: tuple[StreamItem, ...]


def true_reliability(config: LearningConfig, degraded: bool) -> dict[str, float]:
    """The real on-time probability per `CARRIER/REGION` lane (hidden from the resolver)."""
    truth: dict[str, float] = {}
    for carrier, rate in BASE_TRUTH.items():
        for region in CITIES:
            truth[lane_key(carrier, region)] = rate
    truth[lane_key(config.carrier, config.region)] = (
        config.reliability_after if degraded else config.reliability_before
    )
    return truth


def _event_time(day: int, slot: int, per_day: int, family: Family) -> datetime:
    """Cut-off misses are reported just after the 20:00 UTC pick-up (20:05-21:55); the rest
    spread over 07:00-17:00."""
    if family == "cutoff_missed":
        return START + day * DAY + timedelta(hours=20, minutes=5 + 10 * (slot % 12))
    return START + day * DAY + timedelta(hours=7, minutes=600 * slot // per_day)


def build_scenario(config: LearningConfig) -> Scenario:
    """The seeded network (2 DCs, 3 carriers, one order per exception) and the stream."""
    rng = random.Random(config.seed)
    nodes = {n.id: n for n in scenario_nodes()}
    carriers = {c.id: c for c in scenario_carriers()}
    drafts: list[tuple[datetime, Family, str, str, float, float, str]] = []
    for i in range(config.n):
        family: Family = rng.choices(FAMILIES, FAMILY_WEIGHTS)[0]
        region = "NE" if rng.random() < config.ne_share else "SE"
        _, lat, lon = rng.choice(CITIES[region])
        sku = rng.choice(SKUS).id
        tier = rng.choices(
            [CustomerTier.STANDARD, CustomerTier.SILVER, CustomerTier.GOLD], [0.6, 0.25, 0.15]
        )[0]
        per_day = config.events_per_day
        moment = _event_time(i // per_day, i % per_day, per_day, family)
        drafts.append(
            (
                moment,
                family,
                region,
                sku,
                lat + rng.uniform(-0.15, 0.15),
                lon + rng.uniform(-0.15, 0.15),
                tier.value,
            )
        )
    drafts.sort(key=lambda d: d[0])
    orders: list[Order] = []
    stream: list[StreamItem] = []
    units: dict[tuple[str, str], int] = {}
    for index, (moment, family, region, sku, lat, lon, tier_name) in enumerate(drafts):
        order_id = f"O-{index + 1:05d}"
        node = nodes[DC_OF_REGION[region]]
        carrier_id = REGIONAL_CARRIER if family == "carrier_disruption" else "PARCELCO"
        carrier = carriers[carrier_id]
        service = next(s for s in carrier.services if s.level is ServiceLevel.GROUND)
        ship_to = ShipTo(lat=round(lat, 4), lon=round(lon, 4), region=region)
        # The plan the promise was made on: released in time for the day's pick-up.
        release = moment - timedelta(hours=12) if family == "cutoff_missed" else moment
        planned = estimate(node, carrier, service, ship_to, moment + 30 * DAY, release)
        assert planned is not None
        slack = timedelta(hours=rng.uniform(3.0, 8.0))
        orders.append(
            Order(
                id=order_id,
                channel=Channel.D2C,
                customer_tier=CustomerTier(tier_name),
                ship_to=ship_to,
                lines=[OrderLine(sku=sku, qty=1, unit_price=PRICES[sku])],
                created_at=moment - timedelta(hours=14),
                promised_by=planned.arrives_at + slack,
                allocation=Allocation(node=node.id, carrier_service=service.id),
                status=OrderStatus.ALLOCATED,
            )
        )
        units[(node.id, sku)] = units.get((node.id, sku), 0) + 1
        event_type = EventType(family)
        event = ExceptionEvent(
            id=f"EX-LRN-{index + 1:05d}",
            type=event_type,
            occurred_at=moment,
            source="carrier" if family == "carrier_disruption" else "monitor",
            orders=[order_id],
            node=node.id if family != "carrier_disruption" else None,
            carrier=REGIONAL_CARRIER if family == "carrier_disruption" else None,
            region=region if family == "carrier_disruption" else None,
        )
        stream.append(
            StreamItem(
                index=index,
                family=family,
                event=event,
                order_id=order_id,
                region=region,
                degraded=index >= config.degrade_index,
            )
        )
    inventory = [
        InventoryPosition(node=n, sku=s.id, on_hand=5_000, reserved=units.get((n, s.id), 0))
        for n in nodes
        for s in SKUS
    ]
    snapshot = NetworkSnapshot(
        as_of=START,
        skus=list(SKUS),
        nodes=list(nodes.values()),
        inventory=inventory,
        carriers=list(carriers.values()),
        orders=orders,
    )
    return Scenario(config=config, snapshot=snapshot, stream=tuple(stream))
