"""The expected-cost score of a resolution: money, in terms a person can re-add.

    total = shipping + handling + lateness_risk + split_penalty + inventory_risk
            + node_strain + margin_impact + promise_change

- shipping, handling: what the new shipments cost (carrier charge; the node's handling per
  shipment), times `cost_weight`.
- lateness_risk: (1 - P(on time)) x the lateness penalty of the customer's tier and channel.
  P(on time) is measured against the order's original promise; for a re-promise or a
  backorder, against the new promise the customer is told (moving the promise is charged in
  promise_change instead).
- split_penalty: each shipment beyond the first.
- inventory_risk: per line taken from a node, P(the record lies: fewer than reserved + qty of
  its on-hand units are really there) x `failed_pick_cost` x qty. Each unit on record is there
  with the node's (learned) inventory accuracy, independently: a binomial tail.
- node_strain: per node sent work, `node_strain_weight` x max(0, utilisation after -
  `node_strain_threshold`), utilisation after = (backlog + units added) / daily capacity.
- margin_impact: margin of cancelled lines (qty x (price - unit cost)) x `margin_weight`, plus
  the tier's cancellation goodwill penalty.
- promise_change: a promise moved later (or lines cancelled) is a promise broken:
  `broken_promise_share` x the lateness penalty of the tier and channel, plus the days it
  moves x the tier's per-day goodwill penalty.

Every term is rounded to cents and `total` is the sum of the rounded terms, so the numbers on
screen add up exactly. Lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from tools.decisions import ScoreBreakdown
from tools.network import Node, Order
from tools.priorities import BusinessPriorities
from tools.sourcing.prevalidated import build
from tools.view import NetworkView


def cents(value: float) -> float:
    """Money rounded to cents exactly as `numpy.round(value, 2)` does (x100, round half to
    even, /100), so batch prices computed with numpy match these to the cent."""
    return round(value * 100.0) / 100.0


@lru_cache(maxsize=65536)
def binomial_at_least(n: int, p: float, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summing the shorter tail in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p >= 1.0:
        return 1.0
    if p <= 0.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)

    def pmf(x: int) -> float:
        return math.exp(
            log_n - math.lgamma(x + 1) - math.lgamma(n - x + 1) + x * log_p + (n - x) * log_q
        )

    if k - 1 < n - k + 1:  # lower tail P(X <= k-1) is the shorter sum
        return min(1.0, max(0.0, 1.0 - math.fsum(pmf(x) for x in range(k))))
    return min(1.0, max(0.0, math.fsum(pmf(x) for x in range(k, n + 1))))


def pick_probability(view: NetworkView, node_id: str, sku: str, qty: int) -> float:
    """P(at least reserved + qty of the node's on-hand units of `sku` are really there)."""
    pos = view.position(node_id, sku)
    if pos is None:
        return 0.0
    return binomial_at_least(pos.on_hand, view.accuracy(node_id), pos.reserved + qty)


def strain(node: Node, added_units: int, priorities: BusinessPriorities) -> tuple[float, float]:
    """(node strain cost, utilisation after adding `added_units`)."""
    if node.capacity_units_per_day <= 0:
        return 0.0, math.inf
    util = (node.backlog_units + added_units) / node.capacity_units_per_day
    return priorities.node_strain_weight * max(0.0, util - priorities.node_strain_threshold), util


@dataclass(frozen=True)
class Leg:
    """One shipment of a resolution, as the score sees it."""

    node: str
    carrier_service: str
    lines: tuple[tuple[str, int], ...]
    shipping: float  # carrier charge
    handling: float  # the node's handling cost for the shipment
    on_time_probability: float
    eta: datetime
    distance_km: float = 0.0
    added_units: int = 0  # pick/pack units this leg adds to the node's queue
    takes_stock: bool = True  # False when the stock is already the order's (keep, rebook)
    # What P(on time) is made of, to measure it against another promise (re-promise).
    reliability: float = 1.0
    transit_days: float = 0.0
    disrupted: bool = False

    @property
    def units(self) -> int:
        return sum(q for _, q in self.lines)

    def with_on_time(self, on_time_probability: float) -> Leg:
        """`dataclasses.replace(self, on_time_probability=...)`, without re-running the
        frozen __init__ field by field (every other field is copied as it is)."""
        made = object.__new__(Leg)
        made.__dict__.update(self.__dict__, on_time_probability=on_time_probability)
        return made


@dataclass(frozen=True)
class ScoreInput:
    """Everything the score of one order's resolution depends on."""

    legs: Sequence[Leg] = ()
    # P(on time) for the lateness term; None: every leg on time (product of the legs).
    on_time_probability: float | None = None
    lateness_against: str = "the promise"
    cancelled: Sequence[tuple[str, int, float]] = ()  # (sku, qty, unit price)
    promise_shift_days: float = 0.0
    # Shipping paid later (a backorder ships after the restock), at today's cost.
    deferred_shipping: float = 0.0
    deferred_handling: float = 0.0
    extra_notes: list[str] = field(default_factory=list)


def legs_on_time(legs: Sequence[Leg]) -> float:
    p = 1.0
    for leg in legs:
        p *= leg.on_time_probability
    return p


def score(
    view: NetworkView,
    order: Order,
    priorities: BusinessPriorities,
    plan: ScoreInput,
    *,
    explain: bool = True,
) -> ScoreBreakdown:
    """The expected-cost breakdown of resolving `order` as `plan` says (module docstring).
    `explain=False` leaves the notes out (same numbers, for bulk pricing)."""
    values, notes = _evaluate(view, order, priorities, plan, explain)
    # Built from checked numbers: skip re-validation (this runs for every option priced).
    return build(ScoreBreakdown, notes=notes, **values)


def score_total(
    view: NetworkView, order: Order, priorities: BusinessPriorities, plan: ScoreInput
) -> float:
    """`score(...).total`, without building the breakdown."""
    return _evaluate(view, order, priorities, plan, False)[0]["total"]


def one_leg_totals(
    view: NetworkView, order: Order, priorities: BusinessPriorities, legs: Sequence[Leg]
) -> list[float]:
    """`score_total(view, order, priorities, ScoreInput(legs=[leg]))` for each leg, for legs
    that differ only in how they ship: the same node, lines, added units and `takes_stock`
    (one node's services). The node's terms are worked out once; every number is computed
    by the same operations as `_evaluate`, so the totals are identical."""
    if not legs:
        return []
    first = legs[0]
    return shipment_totals(
        view,
        order,
        priorities,
        first,
        [(leg.shipping, leg.handling, leg.on_time_probability) for leg in legs],
    )


def shipment_totals(
    view: NetworkView,
    order: Order,
    priorities: BusinessPriorities,
    leg: Leg,
    shipments: Sequence[tuple[float, float, float]],
) -> list[float]:
    """`one_leg_totals` of `leg` shipped each way of `shipments` (shipping, handling,
    P(on time)): only `leg`'s node, lines, added units and `takes_stock` are read, so a caller
    prices quotes without building a `Leg` for each."""
    w = priorities.cost_weight
    penalty = priorities.lateness_cost(order.customer_tier, order.channel)
    split = cents(0 * priorities.split_penalty)
    risk_total = 0.0
    if leg.takes_stock:
        for sku, qty in leg.lines:
            p_pick = pick_probability(view, leg.node, sku, qty)
            risk_total += (1.0 - p_pick) * priorities.failed_pick_cost * qty
    inventory_risk = cents(risk_total)
    node_strain = cents(0.0 + strain(view.nodes[leg.node], leg.added_units, priorities)[0])
    margin_impact = cents(0.0)
    per_day = priorities.repromise_penalty_per_day.get(order.customer_tier, 0.0)
    promise_change = cents(max(0.0, 0.0) * per_day + 0.0)
    totals = []
    for shipping_cost, handling_cost, on_time in shipments:
        shipping = cents(w * (shipping_cost + 0.0))
        handling = cents(w * (handling_cost + 0.0))
        lateness = cents((1.0 - 1.0 * on_time) * penalty)
        # Added left to right, as `sum(terms)` in `_evaluate` does.
        terms = shipping + handling + lateness + split + inventory_risk + node_strain
        totals.append(cents(terms + margin_impact + promise_change))
    return totals


def score_values(
    view: NetworkView, order: Order, priorities: BusinessPriorities, plan: ScoreInput
) -> dict[str, float]:
    """The numbers of `score(...)` by field name, without the notes or the breakdown."""
    return _evaluate(view, order, priorities, plan, False)[0]


def _evaluate(
    view: NetworkView,
    order: Order,
    priorities: BusinessPriorities,
    plan: ScoreInput,
    explain: bool,
) -> tuple[dict[str, float], list[str]]:
    notes: list[str] = []
    w = priorities.cost_weight
    shipping = cents(w * (sum(leg.shipping for leg in plan.legs) + plan.deferred_shipping))
    handling = cents(w * (sum(leg.handling for leg in plan.legs) + plan.deferred_handling))
    if (plan.deferred_shipping or plan.deferred_handling) and explain:
        notes.append(
            f"shipping ${w * plan.deferred_shipping:.2f} + handling "
            f"${w * plan.deferred_handling:.2f} later, at today's cost of the allocation"
        )
    if explain:
        for leg in plan.legs:
            kg = view.lines_weight_kg(leg.lines)
            notes.append(
                f"shipping ${w * leg.shipping:.2f} + handling ${w * leg.handling:.2f}: "
                f"{leg.carrier_service} from {leg.node}, {kg:.1f} kg over {leg.distance_km:.0f} km"
            )

    p_on_time = plan.on_time_probability
    if p_on_time is None:
        p_on_time = legs_on_time(plan.legs) if plan.legs else 1.0
    penalty = priorities.lateness_cost(order.customer_tier, order.channel)
    lateness = cents((1.0 - p_on_time) * penalty)
    if lateness and explain:
        notes.append(
            f"lateness risk ${lateness:.2f} = (1 - {p_on_time:.1%} on time vs "
            f"{plan.lateness_against}) x ${penalty:.2f} "
            f"({order.customer_tier.value} {order.channel.value})"
        )

    extra = max(0, len(plan.legs) - 1)
    split = cents(extra * priorities.split_penalty)
    if split and explain:
        notes.append(
            f"split ${split:.2f} = {extra} extra shipment(s) x ${priorities.split_penalty:.2f}"
        )

    risk_total = 0.0
    for leg in plan.legs:
        if not leg.takes_stock:
            continue
        for sku, qty in leg.lines:
            p_pick = pick_probability(view, leg.node, sku, qty)
            term = (1.0 - p_pick) * priorities.failed_pick_cost * qty
            risk_total += term
            if term >= 0.005 and explain:
                notes.append(
                    f"inventory risk ${term:.2f} = {1 - p_pick:.1%} chance {qty} x {sku} is "
                    f"not really at {leg.node} (accuracy {view.accuracy(leg.node):.1%}) x "
                    f"${priorities.failed_pick_cost:.2f} x {qty}"
                )
    inventory_risk = cents(risk_total)

    strain_total = 0.0
    for leg in plan.legs:
        node = view.nodes[leg.node]
        term, util = strain(node, leg.added_units, priorities)
        strain_total += term
        if term >= 0.005 and explain:
            notes.append(
                f"node strain ${term:.2f} = ${priorities.node_strain_weight:.2f} x "
                f"({util:.0%} utilisation - {priorities.node_strain_threshold:.0%}) "
                f"at {leg.node}"
            )
    node_strain = cents(strain_total)

    margin = 0.0
    if plan.cancelled:
        lost = sum(
            qty * max(0.0, price - view.skus[sku].unit_cost) for sku, qty, price in plan.cancelled
        )
        goodwill = priorities.cancel_penalty.get(order.customer_tier, 0.0)
        margin = priorities.margin_weight * lost + goodwill
        if explain:
            notes.append(
                f"margin ${margin:.2f} = lost margin ${lost:.2f} x {priorities.margin_weight:g} + "
                f"cancellation goodwill ${goodwill:.2f} ({order.customer_tier.value})"
            )
    margin_impact = cents(margin)

    per_day = priorities.repromise_penalty_per_day.get(order.customer_tier, 0.0)
    shift = max(0.0, plan.promise_shift_days)
    # Cancelled lines break the promise too: charged alike, so backorder vs cancel still ranks
    # on their own terms (days of wait vs lost margin and goodwill).
    broken = priorities.broken_promise_share * penalty if shift > 0 or plan.cancelled else 0.0
    promise_change = cents(shift * per_day + broken)
    if promise_change and explain:
        notes.append(
            f"promise change ${promise_change:.2f} = {plan.promise_shift_days:.1f} day(s) "
            f"later x ${per_day:.2f}/day ({order.customer_tier.value})"
            + (
                f" + the broken promise {priorities.broken_promise_share:g} x ${penalty:.2f}"
                if broken
                else ""
            )
        )
    if explain:
        notes.extend(plan.extra_notes)

    terms = (shipping, handling, lateness, split, inventory_risk, node_strain, margin_impact)
    values = {
        "total": cents(sum(terms) + promise_change),
        "shipping": shipping,
        "handling": handling,
        "lateness_risk": lateness,
        "split_penalty": split,
        "inventory_risk": inventory_risk,
        "node_strain": node_strain,
        "margin_impact": margin_impact,
        "promise_change": promise_change,
    }
    return values, notes
