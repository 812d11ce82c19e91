"""The learning curve: does the agent notice that a carrier got worse, and stop using it?

A long replay on ONE store (so learning accumulates), where one carrier's TRUE on-time
reliability into one region drops midway (by default PARCELCO into NE: 0.95 -> 0.45) while
its recorded `on_time_rate` stays 0.95. Every exception in the stream is resolved by choosing
a carrier service: `sla_risk` (keep, rebook or upgrade a tight order), `cutoff_missed` (the
parcel missed today's pick-up: upgrade to an overnight service, or re-promise) and
`carrier_disruption` (the order's regional carrier is down: rebook). Two carriers can serve
every order: PARCELCO (ground $1.50 cheaper, recorded 0.95) and SWIFT (recorded 0.93, truly
0.93 throughout; overnight at the same price as PARCELCO's); so once the agent believes
PARCELCO/NE is poor, SWIFT is the better choice. Promises are tight (3-8 hours of slack on the
planned ground arrival), so P(on time) is close to the carrier's reliability.

Known limit of the learner this scenario steers around: a lane's posterior is updated with
"delivered by the promise", not "delivered by the carrier's ETA", so a shipment with a day of
slack (an overnight upgrade) counts as a success even from a degraded carrier. When SWIFT's
overnight cost $1.50 more than PARCELCO's, the agent kept upgrading on PARCELCO after a
missed cut-off, those on-time upgrades pulled PARCELCO/NE's posterior back up, and it drifted
back to PARCELCO ground (true 0.45): learning on kept 78 % vs 65 % in the last third instead
of 94 % vs 65 %.

The real resolver (`agents.resolver.Resolver`: perceive -> decide -> guard -> act -> learn,
deterministic, no LLM, no precedent memory) decides each exception. The executed shipment is
then delivered under the truth with a seeded RNG, using the promise model's own shape
(`tools.promise`): on the carrier's ETA with the TRUE probability r, otherwise after a
log-normal delay (median 0.93 x transit, sigma 0.825, doubled on a disrupted lane). Outcomes
become known when the parcel arrives; with learning ON each is fed back through
`Resolver.record_outcome` before the first exception that happens after it (so the Beta
posterior of the lane, which `NetworkView.reliability` gives the promise tool, moves with a
realistic lag); with learning OFF nothing is fed back.

Both runs see the same stream and the same random draws per case (common random numbers), so
the difference between them is the decisions alone. A promise is kept when the order arrives
by its ORIGINAL `promised_by` (a re-promise or a cancellation is a promise not kept).
"""

from __future__ import annotations

import heapq
import math
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.resolver import Resolver
from agents.state import HumanDecision
from evals.cases import Truth
from guardrails.policy import Policy, default_policy
from guardrails.policy_schema import RateLimit
from tools.decisions import ActionType, Decision, DecisionStatus, OrderOutcome
from tools.events import EventType, ExceptionEvent
from tools.geo import great_circle_km
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
from tools.promise import (
    DISRUPTION_DELAY_FACTOR,
    DISRUPTION_RELIABILITY_FACTOR,
    LATE_DELAY_MEDIAN_PER_TRANSIT_DAY,
    LATE_DELAY_MIN_MEDIAN_DAYS,
    LATE_DELAY_SIGMA,
    estimate,
    transit_days,
)
from tools.settings import Settings
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


# ---------------------------------------------------------------------------- delivery
@dataclass(frozen=True)
class Shipment:
    node: str
    carrier: str
    carrier_service: str
    eta: datetime


@dataclass(frozen=True)
class Delivery:
    shipment: Shipment | None
    arrived_at: datetime | None
    on_time: bool
    true_reliability: float | None


def shipments_of(decision: Decision, order_id: str, snapshot: NetworkSnapshot) -> list[Shipment]:
    """The customer shipments an executed decision leaves for the order (split legs each)."""
    carrier_of = {s.id: c.id for c in snapshot.carriers for s in c.services}
    found: list[Shipment] = []
    for action in decision.actions:
        if action.order not in (None, order_id) and order_id not in (action.orders or []):
            continue
        if action.type is ActionType.SPLIT and action.legs:
            found = [
                Shipment(leg.node, carrier_of[leg.carrier_service], leg.carrier_service, leg.eta)
                for leg in action.legs
                if leg.eta is not None
            ]
        elif (
            action.type
            in (
                ActionType.HOLD,
                ActionType.REALLOCATE,
                ActionType.UPGRADE_SERVICE,
                ActionType.BOOK_CARRIER,
                ActionType.REPROMISE,
                ActionType.BACKORDER,
            )
            and action.node
            and action.carrier_service
            and action.eta is not None
        ):
            found = [
                Shipment(
                    action.node,
                    carrier_of[action.carrier_service],
                    action.carrier_service,
                    action.eta,
                )
            ]
    return found


def new_promise(decision: Decision, order: Order) -> datetime:
    """The promise in force after a decision: the last re-promise of the order, if any."""
    promise = order.promised_by
    for action in decision.actions:
        if action.order == order.id and action.promised_by is not None:
            promise = action.promised_by
    return promise


def planned_shipment(order: Order, snapshot: NetworkSnapshot, release: datetime) -> Shipment:
    """How the order ships when nobody acted on it: its allocation, released at `release`."""
    assert order.allocation is not None
    nodes = {n.id: n for n in snapshot.nodes}
    services = {s.id: (c, s) for c in snapshot.carriers for s in c.services}
    carrier, service = services[order.allocation.carrier_service]
    est = estimate(
        nodes[order.allocation.node], carrier, service, order.ship_to, order.promised_by, release
    )
    assert est is not None
    return Shipment(est.node, carrier.id, service.id, est.arrives_at)


def deliver(
    shipment: Shipment,
    order: Order,
    snapshot: NetworkSnapshot,
    truth: dict[str, float],
    disrupted: bool,
    draws: tuple[float, float],
) -> Delivery:
    """Deliver one shipment under the truth: on its ETA with the true on-time probability,
    otherwise after a log-normal delay shaped like `tools.promise`'s model."""
    nodes = {n.id: n for n in snapshot.nodes}
    services = {s.id: s for c in snapshot.carriers for s in c.services}
    node = nodes[shipment.node]
    km = great_circle_km(node.lat, node.lon, order.ship_to.lat, order.ship_to.lon)
    transit = transit_days(services[shipment.carrier_service], km)
    r = truth.get(lane_key(shipment.carrier, order.ship_to.region), 0.9)
    if disrupted:
        r *= DISRUPTION_RELIABILITY_FACTOR
    u, z = draws
    delay_days = 0.0
    if u >= r:
        median = max(LATE_DELAY_MIN_MEDIAN_DAYS, LATE_DELAY_MEDIAN_PER_TRANSIT_DAY * transit)
        if disrupted:
            median *= DISRUPTION_DELAY_FACTOR
        delay_days = median * math.exp(LATE_DELAY_SIGMA * z)
    arrived = shipment.eta + timedelta(days=delay_days)
    return Delivery(shipment, arrived, arrived <= order.promised_by, r)


# ---------------------------------------------------------------------------- the runs
class CaseResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    exception_id: str
    family: str
    region: str
    degraded: bool
    status: str
    carrier_service: str | None
    believed_reliability: float | None  # the resolver's view of the chosen lane, at decision
    true_reliability: float | None
    promise_kept: bool
    cost_delta: float


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learning: bool
    cases: list[CaseResult]
    outcomes_recorded: int
    final_posteriors: dict[str, float]


ProgressHook = Callable[[int, int], None]


def replay_policy() -> Policy:
    """The default policy, less the hourly per-node rate limit: that limit counts WALL-clock
    time, and a replay puts weeks of exceptions into a minute, so it would send every plan
    after the 200th to a person for reasons that never happened."""
    policy = default_policy()
    return policy.model_copy(
        update={"rate_limit": RateLimit(max_autonomous_actions_per_node_per_hour=None)}
    )


def _case_draws(seed: int, index: int) -> tuple[float, float]:
    """The same two random numbers for a case in every run (common random numbers)."""
    rng = random.Random(seed * 1_000_003 + index)
    return rng.random(), rng.gauss(0.0, 1.0)


def run_stream(
    scenario: Scenario,
    *,
    learning: bool,
    workdir: Path | None = None,
    progress: ProgressHook | None = None,
) -> RunResult:
    """Resolve the whole stream on a fresh SQLite store; feed outcomes back iff `learning`."""
    with tempfile.TemporaryDirectory(prefix="execlayer-learn-", dir=workdir) as home:
        settings = Settings(
            _env_file=None,
            home=Path(home),
            db_url=f"sqlite:///{Path(home) / 'store.db'}",
        )
        with Resolver.open(
            settings, policy=replay_policy(), use_llm=False, use_memory=False
        ) as resolver:
            resolver.store.load_snapshot(scenario.snapshot)
            return _run(resolver, scenario, learning, progress)


def _run(
    resolver: Resolver, scenario: Scenario, learning: bool, progress: ProgressHook | None
) -> RunResult:
    config = scenario.config
    snapshot = scenario.snapshot
    orders = {o.id: o for o in snapshot.orders}
    pending: list[tuple[datetime, int, OrderOutcome]] = []  # outcomes not yet known
    recorded = 0
    results: list[CaseResult] = []
    total = len(scenario.stream)
    for item in scenario.stream:
        now = item.event.occurred_at
        while pending and pending[0][0] <= now:
            _, _, outcome = heapq.heappop(pending)
            if learning:
                resolver.record_outcome(outcome)
                recorded += 1
        decision = resolver.resolve(item.event)
        if decision.status is DecisionStatus.PENDING_APPROVAL and decision.approval is not None:
            # A person accepts the agent's plan: the curve measures the agent's choices.
            decision = resolver.decide_approval(
                decision.approval.id,
                HumanDecision(decision="approve", actor="eval:learning", channel="eval"),
            )
        order = orders[item.order_id]
        believed = resolver.store.reliability_posteriors()
        truth = true_reliability(config, item.degraded)
        executed = decision.status in (DecisionStatus.AUTO_RESOLVED, DecisionStatus.RESOLVED)
        shipments = shipments_of(decision, order.id, snapshot) if executed else []
        cancelled = executed and any(a.type is ActionType.CANCEL_LINES for a in decision.actions)
        if not shipments and not cancelled:
            # Nobody acted (escalated, rejected, failed): the order ships as it was booked,
            # after the event (a missed cut-off leaves tomorrow).
            shipments = [planned_shipment(order, snapshot, _release_after(item, snapshot))]
        draws = _case_draws(config.seed, item.index)
        deliveries = [
            deliver(
                s,
                order,
                snapshot,
                truth,
                disrupted=item.family == "carrier_disruption" and s.carrier == REGIONAL_CARRIER,
                draws=draws,
            )
            for s in shipments
        ]
        kept = bool(deliveries) and not cancelled and all(d.on_time for d in deliveries)
        # What the OMS reports back: on time against the promise in force (a re-promise
        # moved it), so the carrier is judged on what it was asked to do.
        in_force = new_promise(decision, order) if executed else order.promised_by
        first = deliveries[0] if deliveries else None
        chosen = first.shipment if first is not None else None
        if first is not None and chosen is not None and first.arrived_at is not None:
            outcome = OrderOutcome(
                order=order.id,
                exception_id=item.event.id,
                occurred_at=first.arrived_at,
                carrier=chosen.carrier,
                region=order.ship_to.region,
                delivered_at=first.arrived_at,
                delivered_on_time=first.arrived_at <= in_force,
            )
            heapq.heappush(pending, (first.arrived_at, item.index, outcome))
        results.append(
            CaseResult(
                index=item.index,
                exception_id=item.event.id,
                family=item.family,
                region=item.region,
                degraded=item.degraded,
                status=decision.status.value,
                carrier_service=chosen.carrier_service if chosen else None,
                believed_reliability=(
                    round(
                        believed.get(
                            lane_key(chosen.carrier, order.ship_to.region),
                            next(
                                c.on_time_rate for c in snapshot.carriers if c.id == chosen.carrier
                            ),
                        ),
                        4,
                    )
                    if chosen
                    else None
                ),
                true_reliability=first.true_reliability if first else None,
                promise_kept=kept,
                cost_delta=round(sum(a.cost_delta for a in decision.actions), 2)
                if executed
                else 0.0,
            )
        )
        if progress is not None:
            progress(item.index + 1, total)
    return RunResult(
        learning=learning,
        cases=results,
        outcomes_recorded=recorded,
        final_posteriors={
            k: round(v, 4) for k, v in resolver.store.reliability_posteriors().items()
        },
    )


def _release_after(item: StreamItem, snapshot: NetworkSnapshot) -> datetime:
    if item.family == "cutoff_missed":
        hour = next(n.cutoff_hour_utc for n in snapshot.nodes if n.id == item.event.node)
        moment = item.event.occurred_at
        return (
            moment.replace(hour=hour, minute=0, second=0, microsecond=0) + DAY - timedelta(hours=1)
        )
    return item.event.occurred_at


# ---------------------------------------------------------------------------- the curve
class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    first_case: int
    last_case: int
    degraded: bool  # every case of the window is after the degradation
    cases: int
    learning_kept: float
    static_kept: float
    learning_share_degraded_lane: float  # share of cases shipped on the degraded lane
    static_share_degraded_lane: float


class LearningCurve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: LearningConfig
    degraded_lane: str
    windows: list[Window]
    learning_kept_before: float
    static_kept_before: float
    learning_kept_after: float
    static_kept_after: float
    learning_kept_last_windows: float  # after the agent had time to learn (last third)
    static_kept_last_windows: float
    outcomes_recorded: int
    final_posteriors: dict[str, float]
    seconds: float


def _rate(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _on_lane(case: CaseResult, config: LearningConfig) -> bool:
    return (
        case.carrier_service is not None
        and case.carrier_service.startswith(config.carrier + "-")
        and case.region == config.region
    )


def summarise(
    config: LearningConfig, learn: RunResult, static: RunResult, seconds: float
) -> LearningCurve:
    windows: list[Window] = []
    n = len(learn.cases)
    for w, start in enumerate(range(0, n, config.window)):
        a = learn.cases[start : start + config.window]
        b = static.cases[start : start + config.window]
        windows.append(
            Window(
                index=w,
                first_case=start,
                last_case=start + len(a) - 1,
                degraded=all(c.degraded for c in a),
                cases=len(a),
                learning_kept=_rate([c.promise_kept for c in a]),
                static_kept=_rate([c.promise_kept for c in b]),
                learning_share_degraded_lane=_rate([_on_lane(c, config) for c in a]),
                static_share_degraded_lane=_rate([_on_lane(c, config) for c in b]),
            )
        )
    cut = config.degrade_index
    last = n - max(config.window, (n - cut) // 3)
    return LearningCurve(
        config=config,
        degraded_lane=lane_key(config.carrier, config.region),
        windows=windows,
        learning_kept_before=_rate([c.promise_kept for c in learn.cases[:cut]]),
        static_kept_before=_rate([c.promise_kept for c in static.cases[:cut]]),
        learning_kept_after=_rate([c.promise_kept for c in learn.cases[cut:]]),
        static_kept_after=_rate([c.promise_kept for c in static.cases[cut:]]),
        learning_kept_last_windows=_rate([c.promise_kept for c in learn.cases[last:]]),
        static_kept_last_windows=_rate([c.promise_kept for c in static.cases[last:]]),
        outcomes_recorded=learn.outcomes_recorded,
        final_posteriors=learn.final_posteriors,
        seconds=round(seconds, 2),
    )


def learning_curve(
    config: LearningConfig,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    workdir: Path | None = None,
) -> tuple[LearningCurve, RunResult, RunResult]:
    """Both runs over the same stream: (the curve, the learning run, the non-learning run)."""
    import time

    started = time.perf_counter()
    scenario = build_scenario(config)

    def hook(label: str) -> ProgressHook | None:
        if progress is None:
            return None
        return lambda done, total: progress(label, done, total)

    learn = run_stream(scenario, learning=True, workdir=workdir, progress=hook("learning on"))
    static = run_stream(scenario, learning=False, workdir=workdir, progress=hook("learning off"))
    curve = summarise(config, learn, static, time.perf_counter() - started)
    return curve, learn, static
