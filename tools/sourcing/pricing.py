"""Many shipment options priced at once: the vectorised twin of the carrier quote and the score.

Batch re-sourcing prices hundreds of thousands of (order, node, carrier service) options;
quoting them one by one through `tools.carriers` would take longer than the whole plan may.
`BatchPricer` computes exactly the same numbers with numpy: legality (weight, distance, carrier
regions, disrupted lanes, unbookable services, policy carrier lists, hazmat by air), cost
(contract section 1), ready/departure/arrival times, P(on time) (`tools.promise`), and the
score terms (`tools.sourcing.score`), rounded to cents the same way. The test suite checks the
two paths agree option by option.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tools.geo import EARTH_RADIUS_KM
from tools.network import Channel, NodeStatus, Order, TransportMode
from tools.priorities import BusinessPriorities
from tools.promise import (
    DEGRADED_NODE_RELIABILITY_FACTOR,
    LATE_DELAY_MEDIAN_PER_TRANSIT_DAY,
    LATE_DELAY_MIN_MEDIAN_DAYS,
    LATE_DELAY_SIGMA,
)
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.options import order_lines, release_for
from tools.sourcing.score import pick_probability
from tools.sourcing.situation import Situation
from tools.view import NetworkView

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]
DAY_S = 86400.0
_erf = np.frompyfunc(math.erf, 1, 1)


def haversine_km(lat1: Floats, lon1: Floats, lat2: Floats, lon2: Floats) -> Floats:
    """Great-circle km, elementwise (the same formula as `tools.geo.great_circle_km`)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


@dataclass
class PricedOptions:
    """Per option (aligned arrays): where from, how, and what it costs in expectation."""

    order: Ints  # index into the pricer's order list
    node: Ints  # index into pricer.node_ids
    service: Ints  # index into pricer.service_ids
    distance_km: Floats
    shipping: Floats
    handling: Floats
    eta_s: Floats  # arrival, epoch seconds
    p_on_time: Floats
    lateness: Floats
    inventory_risk: Floats
    node_strain: Floats
    total: Floats  # cents-rounded sum of the cents-rounded terms

    def __len__(self) -> int:
        return len(self.order)

    def take(self, idx: Ints | Bools) -> PricedOptions:
        return PricedOptions(**{k: v[idx] for k, v in self.__dict__.items()})


class BatchPricer:
    """Network arrays for one view, situation and policy, and the pricing of options."""

    def __init__(
        self,
        view: NetworkView,
        situation: Situation,
        priorities: BusinessPriorities,
        limits: SourcingLimits,
        orders: Sequence[Order],
    ) -> None:
        self.view, self.situation, self.priorities, self.limits = (
            view,
            situation,
            priorities,
            limits,
        )
        self.orders = list(orders)
        nodes = list(view.nodes.values())
        self.node_ids = [n.id for n in nodes]
        self.node_index = {n: i for i, n in enumerate(self.node_ids)}
        regions = sorted(
            {n.region for n in nodes}
            | {o.ship_to.region for o in self.orders}
            | {r for c in view.carriers.values() for r in c.regions}
        )
        self.region_index = {r: i for i, r in enumerate(regions)}
        self.node_lat = np.array([n.lat for n in nodes])
        self.node_lon = np.array([n.lon for n in nodes])
        self.node_region = np.array([self.region_index[n.region] for n in nodes], dtype=np.int64)
        self.node_open = np.array(
            [n.status is not NodeStatus.CLOSED and n.capacity_units_per_day > 0 for n in nodes]
        )
        self.node_degraded = np.array([n.status is NodeStatus.DEGRADED for n in nodes])
        self.capacity = np.array([float(n.capacity_units_per_day) for n in nodes])
        self.backlog = np.array([float(n.backlog_units) for n in nodes])
        self.handling = np.array([n.handling_cost_per_order for n in nodes])
        self.processing = np.array([n.processing_days for n in nodes])
        self.cutoff_s = np.array([n.cutoff_hour_utc * 3600.0 for n in nodes])
        self.release_s = np.array([release_for(view, situation, n.id).timestamp() for n in nodes])
        self.room = np.array([float(limits.capacity_left(n)) for n in nodes])

        services = [(c, s) for c in view.carriers.values() for s in c.services]
        self.service_ids = [s.id for _, s in services]
        carriers = list(view.carriers.values())
        carrier_index = {c.id: i for i, c in enumerate(carriers)}
        self.carrier_ids = [c.id for c in carriers]
        self.svc_carrier = np.array([carrier_index[c.id] for c, _ in services], dtype=np.int64)
        self.svc_base = np.array([s.base_rate for _, s in services])
        self.svc_kg = np.array([s.rate_per_kg for _, s in services])
        self.svc_km = np.array([s.rate_per_100km for _, s in services])
        self.svc_t0 = np.array([s.transit_days_base for _, s in services])
        self.svc_t1 = np.array([s.transit_days_per_1000km for _, s in services])
        self.svc_max_w = np.array([s.max_weight_kg for _, s in services])
        self.svc_max_d = np.array(
            [s.max_distance_km if s.max_distance_km is not None else np.inf for _, s in services]
        )
        self.svc_air = np.array([s.mode is TransportMode.AIR for _, s in services])
        self.svc_bookable = np.array(
            [s.id not in situation.unbookable_services for _, s in services]
        )
        n_reg = len(regions)
        self.carrier_serves = np.zeros((len(carriers), n_reg), dtype=bool)
        self.carrier_disrupted = np.zeros((len(carriers), n_reg), dtype=bool)
        self.reliability = np.zeros((len(carriers), n_reg))
        self.carrier_policy = np.ones((len(carriers), n_reg), dtype=bool)
        for ci, c in enumerate(carriers):
            for r, ri in self.region_index.items():
                self.carrier_serves[ci, ri] = r in c.regions
                self.carrier_disrupted[ci, ri] = r in c.disrupted_regions
                self.reliability[ci, ri] = view.reliability(c.id, r)
                self.carrier_policy[ci, ri] = limits.carrier_allowed(c.id, r)

        # Orders.
        self.order_ids = [o.id for o in self.orders]
        self.o_lat = np.array([o.ship_to.lat for o in self.orders])
        self.o_lon = np.array([o.ship_to.lon for o in self.orders])
        self.o_region = np.array(
            [self.region_index[o.ship_to.region] for o in self.orders], dtype=np.int64
        )
        self.o_weight = np.array([view.order_weight_kg(o) for o in self.orders])
        self.o_units = np.array([float(o.units) for o in self.orders])
        self.o_hazmat = np.array(
            [view.is_hazmat(line.sku for line in o.lines) for o in self.orders]
        )
        self.o_promised_s = np.array([o.promised_by.timestamp() for o in self.orders])
        self.o_lateness_cost = np.array(
            [priorities.lateness_cost(o.customer_tier, o.channel) for o in self.orders]
        )
        self._pick_cache: dict[tuple[int, str, int], float] = {}
        self._lines = [order_lines(o) for o in self.orders]

    # -- eligibility ---------------------------------------------------------------------
    def eligible(self, *, respect_room: bool = True) -> Bools:
        """(orders x nodes): may the node take the order as new work, with stock for every
        line (ATP under the policy), room under `max_node_utilization` (unless not
        `respect_room`), the order's channel, not on the order's avoid list, and no B2B order
        to a marketplace seller?"""
        view, limits = self.view, self.limits
        nodes = [view.nodes[n] for n in self.node_ids]
        channels = sorted({c for n in nodes for c in n.channels} | {o.channel for o in self.orders})
        ch_index = {c: i for i, c in enumerate(channels)}
        serves = np.zeros((len(nodes), len(channels)), dtype=bool)
        for i, n in enumerate(nodes):
            for c in n.channels:
                serves[i, ch_index[c]] = True
        o_channel = np.array([ch_index[o.channel] for o in self.orders], dtype=np.int64)
        ok = serves[:, o_channel].T & self.node_open[None, :]
        if respect_room:
            ok &= self.room[None, :] >= self.o_units[:, None]
        for i, order in enumerate(self.orders):
            for node_id in self.situation.avoid(order.id):
                if node_id in self.node_index:
                    ok[i, self.node_index[node_id]] = False
        blocked = np.array([not limits.node_may_serve(n, Channel.B2B) for n in nodes])
        is_b2b = np.array([o.channel is Channel.B2B for o in self.orders])
        ok[np.ix_(is_b2b, blocked)] = False
        # Stock: every line covered by the node's ATP.
        skus = sorted({sku for o in self.orders for sku, _ in order_lines(o)})
        sku_index = {s: i for i, s in enumerate(skus)}
        self.atp = np.zeros((len(nodes), len(skus)))
        for (node_id, sku), _pos in view.inventory.items():
            if sku in sku_index and node_id in self.node_index:
                self.atp[self.node_index[node_id], sku_index[sku]] = view.atp(
                    node_id, sku, include_safety_stock=not limits.respect_safety_stock
                )
        self.sku_ids = skus
        self.sku_index = sku_index
        line_order, line_sku, line_qty = [], [], []
        for i, o in enumerate(self.orders):
            for sku, qty in order_lines(o):
                line_order.append(i)
                line_sku.append(sku_index[sku])
                line_qty.append(qty)
        lo = np.asarray(line_order, dtype=np.int64)
        covered = (
            np.asarray(line_qty)[:, None] <= self.atp[:, np.asarray(line_sku, dtype=np.int64)].T
        )
        starts = np.flatnonzero(np.r_[True, lo[1:] != lo[:-1]])
        ok &= np.logical_and.reduceat(covered, starts, axis=0)
        return ok

    # -- pricing -------------------------------------------------------------------------
    def price(
        self,
        order: Ints,
        node: Ints,
        service: Ints,
        *,
        added_units: Floats | None = None,
        queue_units: Floats | None = None,
    ) -> tuple[PricedOptions, Bools]:
        """Price option triples; returns (options, legal mask). `added_units`: pick units
        each option adds to its node (default: the order's units); `queue_units`: units queued
        ahead of it at the node (default: the node's backlog)."""
        km = haversine_km(
            self.node_lat[node], self.node_lon[node], self.o_lat[order], self.o_lon[order]
        )
        weight = self.o_weight[order]
        carrier = self.svc_carrier[service]
        n_reg, o_reg = self.node_region[node], self.o_region[order]
        disrupted = self.carrier_disrupted[carrier, n_reg] | self.carrier_disrupted[carrier, o_reg]
        legal = (
            self.node_open[node]
            & (weight <= self.svc_max_w[service])
            & (km <= self.svc_max_d[service])
            & self.carrier_serves[carrier, n_reg]
            & self.carrier_serves[carrier, o_reg]
            & ~disrupted
            & self.svc_bookable[service]
            & self.carrier_policy[carrier, n_reg]
            & self.carrier_policy[carrier, o_reg]
        )
        if self.limits.forbid_hazmat_by_air:
            legal &= ~(self.o_hazmat[order] & self.svc_air[service])

        shipping = (
            self.svc_base[service]
            + self.svc_kg[service] * weight
            + self.svc_km[service] * km / 100.0
        )
        handling = self.handling[node]
        queue = self.backlog[node] if queue_units is None else queue_units
        cap = np.where(self.capacity[node] > 0, self.capacity[node], np.inf)
        ready = self.release_s[node] + (self.processing[node] + queue / cap) * DAY_S
        day_start = np.floor(ready / DAY_S) * DAY_S
        depart = day_start + self.cutoff_s[node]
        depart = np.where(depart < ready, depart + DAY_S, depart)
        transit = self.svc_t0[service] + self.svc_t1[service] * km / 1000.0
        eta = depart + transit * DAY_S
        r = self.reliability[carrier, o_reg] * np.where(
            self.node_degraded[node], DEGRADED_NODE_RELIABILITY_FACTOR, 1.0
        )
        slack = (self.o_promised_s[order] - eta) / DAY_S
        p = on_time_vector(r, slack, transit)

        lateness = np.round((1.0 - p) * self.o_lateness_cost[order], 2)
        added = self.o_units[order] if added_units is None else added_units
        util = (self.backlog[node] + added) / cap
        strain = np.round(
            self.priorities.node_strain_weight
            * np.maximum(0.0, util - self.priorities.node_strain_threshold),
            2,
        )
        pair = order * len(self.node_ids) + node
        unique_pair, inverse = np.unique(pair, return_inverse=True)
        risk_pair = self._inventory_risk(
            unique_pair // len(self.node_ids), unique_pair % len(self.node_ids)
        )
        risk = np.round(risk_pair[inverse], 2)
        w = self.priorities.cost_weight
        ship_c = np.round(w * shipping, 2)
        hand_c = np.round(w * handling, 2)
        total = np.round(ship_c + hand_c + lateness + risk + strain, 2)
        return (
            PricedOptions(
                order=order,
                node=node,
                service=service,
                distance_km=km,
                shipping=shipping,
                handling=handling,
                eta_s=eta,
                p_on_time=p,
                lateness=lateness,
                inventory_risk=risk,
                node_strain=strain,
                total=total,
            ),
            legal,
        )

    def _inventory_risk(self, order: Ints, node: Ints) -> Floats:
        """Per option: sum over the order's lines of (1 - P(pickable)) x failed pick cost x qty
        (`tools.sourcing.score.pick_probability`, cached per node, SKU and quantity)."""
        out = np.zeros(len(order))
        cache = self._pick_cache
        cost = self.priorities.failed_pick_cost
        view, node_ids = self.view, self.node_ids
        lines = self._lines
        for i, (o, n) in enumerate(zip(order.tolist(), node.tolist(), strict=True)):
            total = 0.0
            for sku, qty in lines[o]:
                key = (n, sku, qty)
                term = cache.get(key)
                if term is None:
                    term = (1.0 - pick_probability(view, node_ids[n], sku, qty)) * cost * qty
                    cache[key] = term
                total += term
            out[i] = total
        return out


def on_time_vector(reliability: Floats, slack_days: Floats, transit: Floats) -> Floats:
    """`tools.promise.on_time_probability` elementwise (legal options: no disruption)."""
    median = np.maximum(LATE_DELAY_MIN_MEDIAN_DAYS, LATE_DELAY_MEDIAN_PER_TRANSIT_DAY * transit)
    cdf = np.zeros_like(slack_days)
    pos = slack_days > 0
    if np.any(pos):
        z = (np.log(slack_days[pos]) - np.log(median[pos])) / LATE_DELAY_SIGMA
        erf = np.asarray(_erf(z / math.sqrt(2.0)), dtype=np.float64)
        cdf[pos] = 0.5 * (1.0 + erf)
    p = reliability + (1.0 - reliability) * cdf
    return np.where(slack_days < 0, 0.0, p)
