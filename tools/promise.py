"""The promise tool: when a shipment is ready, departs and arrives, and how likely it is on time.

The times are the contract's deterministic reference model (section 1):

- ready_at = release + processing_days + backlog_units / capacity_units_per_day days;
- departs at the first `cutoff_hour_utc` at or after ready_at;
- arrives transit_days_base + transit_days_per_1000km * km / 1000 days after departure;
- on time = arrives at or before `promised_by`.

Around those times sits the probability of being on time. A carrier meets its own ETA with
probability r (its learned reliability into the destination region, halved where the lane is
disrupted). When it misses, the delay is log-normal: shape taken from the real late-delivery
statistics in `shared/external/README.md` (Olist: among late orders p90/median lateness =
19.0/6.6, so sigma = ln(2.88)/1.2816 = 0.825) and median scaled to the transit time (Olist's
median lateness 6.6 d over a median carrier transit of 7.1 d: 0.93 x transit, at least half a
day). So P(on time) = r + (1 - r) * P(delay <= slack) when the nominal arrival has slack >= 0,
and 0 when even the nominal arrival is late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import erf, log, sqrt

from tools.geo import great_circle_km
from tools.network import Carrier, CarrierService, Node, NodeStatus, ShipTo

LATE_DELAY_SIGMA = 0.825
LATE_DELAY_MEDIAN_PER_TRANSIT_DAY = 0.93
LATE_DELAY_MIN_MEDIAN_DAYS = 0.5
DISRUPTION_RELIABILITY_FACTOR = 0.5
DISRUPTION_DELAY_FACTOR = 2.0
# A degraded node works, but slower and less predictably than its record says.
DEGRADED_NODE_RELIABILITY_FACTOR = 0.85

DAY = timedelta(days=1)


def days(value: float) -> timedelta:
    return timedelta(days=value)


def queue_days(node: Node, added_units: int = 0) -> float:
    """Days of work queued ahead of a new release: backlog / daily capacity."""
    if node.capacity_units_per_day <= 0:
        return float("inf")
    return (node.backlog_units + added_units) / node.capacity_units_per_day


def ready_at(node: Node, release_at: datetime, added_backlog: int = 0) -> datetime | None:
    """When the node hands the shipment to a carrier; None if it never will (closed/no capacity)."""
    if node.status is NodeStatus.CLOSED or node.capacity_units_per_day <= 0:
        return None
    return release_at + days(node.processing_days + queue_days(node, added_backlog))


def departure_at(ready: datetime, cutoff_hour_utc: int) -> datetime:
    """The first carrier cut-off at or after `ready` (cut-offs are on the hour, UTC)."""
    cutoff = ready.replace(hour=cutoff_hour_utc, minute=0, second=0, microsecond=0)
    if cutoff < ready:
        cutoff += DAY
    return cutoff


def transit_days(service: CarrierService, distance_km: float) -> float:
    return service.transit_days_base + service.transit_days_per_1000km * distance_km / 1000.0


def normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + erf(z / sqrt(2.0)))


def late_delay_cdf(slack_days: float, transit: float, disrupted: bool = False) -> float:
    """P(a late shipment's delay <= slack_days)."""
    if slack_days <= 0:
        return 0.0
    median = max(LATE_DELAY_MIN_MEDIAN_DAYS, LATE_DELAY_MEDIAN_PER_TRANSIT_DAY * transit)
    if disrupted:
        median *= DISRUPTION_DELAY_FACTOR
    return normal_cdf((log(slack_days) - log(median)) / LATE_DELAY_SIGMA)


def on_time_probability(
    reliability: float, slack_days: float, transit: float, disrupted: bool = False
) -> float:
    """P(arrival <= promise) given the carrier's reliability and the nominal slack."""
    if slack_days < 0:
        return 0.0
    r = reliability * (DISRUPTION_RELIABILITY_FACTOR if disrupted else 1.0)
    return r + (1.0 - r) * late_delay_cdf(slack_days, transit, disrupted)


@dataclass(frozen=True, slots=True)
class PromiseEstimate:
    node: str
    carrier: str
    carrier_service: str
    distance_km: float
    ready_at: datetime
    departs_at: datetime
    arrives_at: datetime
    promised_by: datetime
    transit_days: float
    reliability: float
    disrupted: bool
    on_time_probability: float

    @property
    def on_time(self) -> bool:
        return self.arrives_at <= self.promised_by

    @property
    def slack_days(self) -> float:
        return (self.promised_by - self.arrives_at) / DAY

    @property
    def lateness_days(self) -> float:
        return max(0.0, -self.slack_days)


def lane_disrupted(carrier: Carrier, origin_region: str, destination_region: str) -> bool:
    return origin_region in carrier.disrupted_regions or (
        destination_region in carrier.disrupted_regions
    )


def estimate(
    node: Node,
    carrier: Carrier,
    service: CarrierService,
    ship_to: ShipTo,
    promised_by: datetime,
    release_at: datetime,
    reliability: float | None = None,
    added_backlog: int = 0,
) -> PromiseEstimate | None:
    """Times and on-time probability of shipping from `node` with `service`; None if the node
    cannot ship at all (closed or without capacity)."""
    ready = ready_at(node, release_at, added_backlog)
    if ready is None:
        return None
    km = great_circle_km(node.lat, node.lon, ship_to.lat, ship_to.lon)
    departs = departure_at(ready, node.cutoff_hour_utc)
    return estimate_departing(
        node, carrier, service, ship_to, promised_by, ready, departs, km, reliability
    )


def estimate_departing(
    node: Node,
    carrier: Carrier,
    service: CarrierService,
    ship_to: ShipTo,
    promised_by: datetime,
    ready: datetime,
    departs: datetime,
    km: float,
    reliability: float | None = None,
) -> PromiseEstimate:
    """`estimate` once the node's ready and departure times and the distance are known (they
    do not depend on the service: worked out once per node, shared by its services)."""
    return estimates_departing(
        node, carrier, [service], ship_to, promised_by, ready, departs, km, reliability
    )[0]


def estimates_departing(
    node: Node,
    carrier: Carrier,
    services: Iterable[CarrierService],
    ship_to: ShipTo,
    promised_by: datetime,
    ready: datetime,
    departs: datetime,
    km: float,
    reliability: float | None = None,
) -> list[PromiseEstimate]:
    """`estimate_departing` for several services of one carrier: the carrier's reliability
    and disruption are worked out once; every number is computed as there."""
    disrupted = lane_disrupted(carrier, node.region, ship_to.region)
    r = carrier.on_time_rate if reliability is None else reliability
    if node.status is NodeStatus.DEGRADED:
        r *= DEGRADED_NODE_RELIABILITY_FACTOR
    node_id, carrier_id = node.id, carrier.id
    found = []
    for service in services:
        # `transit_days(service, km)` and `departs + days(transit)`, written out (the hot path).
        transit = service.transit_days_base + service.transit_days_per_1000km * km / 1000.0
        arrives = departs + timedelta(days=transit)
        slack = (promised_by - arrives) / DAY
        found.append(
            PromiseEstimate(
                node_id,
                carrier_id,
                service.id,
                km,
                ready,
                departs,
                arrives,
                promised_by,
                transit,
                r,
                disrupted,
                on_time_probability(r, slack, transit, disrupted),
            )
        )
    return found
