"""Candidate resolutions for one affected order, each scored by expected cost.

`generate_candidates(view, situation, order_id, priorities, limits)` lists every kind of
resolution that is feasible and allowed, best (lowest expected cost) first:

- keep: the current allocation, when it still stands (`hold`, cost delta 0);
- reallocate: another node with stock for every line, by one of its best legal services;
- upgrade_service / rebook: the same node with a faster service / another service;
- split: across at most `max_split_nodes` nodes, when no single node covers the order or a
  split is cheaper;
- transfer_inventory: move stock to the order's node and ship from there, when that beats
  reallocating (e.g. the stock sits at a node that cannot serve the order's channel);
- repromise: the best shipment that cannot make the old promise, with the promise moved to the
  end of its arrival day and the customer told;
- backorder: no stock anywhere: wait for the restock (`details.restock_at`, or
  `DEFAULT_RESTOCK_DAYS`), new promise, customer told;
- cancel_lines: cancel the lines nobody can serve, ship the rest, customer told.

An order whose allocation is broken and that no node can serve still gets backorder and
cancel candidates: the list is never empty for an order that exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from tools.carriers import Quote, QuoteBook, current_cost
from tools.decisions import Action, ActionLine, ActionType, Candidate, ScoreBreakdown, SplitLeg
from tools.network import SERVICE_LEVEL_SPEED, Order, ShipTo
from tools.priorities import BusinessPriorities
from tools.promise import on_time_probability
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.options import Lines, OrderContext, leg_of, release_for
from tools.sourcing.pending import PendingCandidate
from tools.sourcing.prevalidated import build
from tools.sourcing.score import (
    Leg,
    ScoreInput,
    legs_on_time,
    one_leg_totals,
    score,
    score_total,
    score_values,
    shipment_totals,
)
from tools.sourcing.situation import Situation
from tools.view import NetworkView

DAY = timedelta(days=1)
# Without a restock date in the event, stock is assumed back this many days after it.
DEFAULT_RESTOCK_DAYS = 7.0
# After a restock, the order ships from the node as usual: this many days to the customer.
BACKORDER_SHIP_DAYS = 2.0
# A restock date is a supplier's promise: P(the backordered order meets its new promise).
BACKORDER_ON_TIME = 0.8
# Pruning: services kept per node, nodes kept for reallocation, splits and transfers kept.
SERVICES_PER_NODE = 2
NODES_KEPT = 6
SPLITS_KEPT = 3
TRANSFERS_KEPT = 2
REPROMISES_KEPT = 2

KIND_ORDER = {
    "keep": 0,
    "reallocate": 1,
    "upgrade_service": 2,
    "rebook": 3,
    "split": 4,
    "transfer_inventory": 5,
    "repromise": 6,
    "backorder": 7,
    "cancel_lines": 8,
}


class UnknownOrderError(KeyError):
    def __str__(self) -> str:
        return f"unknown order {self.args[0]!r}"


@dataclass(eq=False)
class _Draft:
    """A candidate before ids are assigned. Its actions and its explained score breakdown are
    built only if it is returned (`actions()`, `breakdown()`); ranking needs `total` only."""

    kind: str
    summary: str
    actions: Callable[[], list[Action]]
    total: float
    breakdown: Callable[[], ScoreBreakdown]
    cost_delta: float
    eta: datetime | None
    on_time_probability: float | None
    units_by_node: dict[str, int] = field(default_factory=dict)
    capacity_by_node: dict[str, int] = field(default_factory=dict)
    legs: tuple[Leg, ...] = ()

    def key(self) -> tuple[float, int, str]:
        return (self.total, KIND_ORDER.get(self.kind, 99), self.summary)


# How a one-shipment summary starts, by kind: "Move O-1 to DC-2 by PARCELCO-GROUND: ...".
_SUMMARY_WORDS = {
    "keep": ("Keep", "at", "on"),
    "reallocate": ("Move", "to", "by"),
    "upgrade_service": ("Upgrade", "at", "to"),
    "rebook": ("Rebook", "at", "on"),
}


def _fmt_time(moment: datetime | None) -> str:
    return moment.strftime("%a %H:%M") if moment else "n/a"


def _money(delta: float) -> str:
    return f"+${delta:.2f}" if delta >= 0 else f"-${-delta:.2f}"


def _action_lines(lines: Sequence[tuple[str, int]]) -> list[ActionLine]:
    return [build(ActionLine, sku=sku, qty=qty) for sku, qty in lines]


def _end_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=0, microsecond=0)


def _describe_lines(lines: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{qty} x {sku}" for sku, qty in lines)


class _Generator:
    def __init__(self, ctx: OrderContext) -> None:
        self.ctx = ctx
        self.view = ctx.view
        self.order = ctx.order
        self.base_cost = current_cost(ctx.view, ctx.order)
        self.drafts: list[_Draft] = []
        self.shipping: list[_Draft] = []  # drafts that ship the whole order now

    # -- helpers ---------------------------------------------------------------------------
    def _score(self, plan: ScoreInput) -> ScoreBreakdown:
        return score(self.view, self.order, self.ctx.priorities, plan)

    def _total(self, plan: ScoreInput) -> float:
        return score_total(self.view, self.order, self.ctx.priorities, plan)

    def _explained(self, plan: ScoreInput) -> Callable[[], ScoreBreakdown]:
        return partial(score, self.view, self.order, self.ctx.priorities, plan)

    def _draft(
        self,
        kind: str,
        summary: str,
        actions: Callable[[], list[Action]],
        legs: Sequence[Leg],
        *,
        new_work: bool,
        plan: ScoreInput | None = None,
        total: float | None = None,
    ) -> _Draft:
        legs = tuple(legs)
        explained: Callable[[], ScoreBreakdown]
        if plan is None:  # the plan is built only if the total or the breakdown is asked for
            explained = partial(_legs_score, self.view, self.order, self.ctx.priorities, legs)
            if total is None:
                total = self._total(ScoreInput(legs=legs))
        else:
            explained = self._explained(plan)
            if total is None:
                total = self._total(plan)
        cost = sum(leg.shipping + leg.handling for leg in legs)
        units: dict[str, int] = {}
        capacity: dict[str, int] = {}
        if new_work:
            for leg in legs:
                units[leg.node] = units.get(leg.node, 0) + leg.units
                capacity[leg.node] = capacity.get(leg.node, 0) + leg.added_units
        eta = max((leg.eta for leg in legs), default=None)
        return _Draft(
            kind=kind,
            summary=summary,
            actions=actions,
            total=total,
            breakdown=explained,
            cost_delta=round(cost - self.base_cost, 2),
            eta=eta,
            on_time_probability=round(legs_on_time(legs), 4) if legs else None,
            units_by_node=units,
            capacity_by_node=capacity,
            legs=legs,
        )

    def _ship_actions(self, kind: str, leg: Leg, delta: float) -> list[Action]:
        return [self._ship_action(kind, leg, delta)]

    def _ship_action(self, kind: str, leg: Leg, delta: float) -> Action:
        types = {
            "keep": ActionType.HOLD,
            "reallocate": ActionType.REALLOCATE,
            "upgrade_service": ActionType.UPGRADE_SERVICE,
            "rebook": ActionType.BOOK_CARRIER,
        }
        return build(
            Action,
            type=types[kind],
            order=self.order.id,
            node=leg.node,
            carrier_service=leg.carrier_service,
            lines=_action_lines(leg.lines),
            cost_delta=round(delta, 2),
            eta=leg.eta,
            from_node=self.ctx.current_node if kind == "reallocate" else None,
            reason="keep the current allocation" if kind == "keep" else None,
        )

    def _singles(
        self, kinds: Sequence[str], quotes: Sequence[Quote], *, new_work: bool
    ) -> list[_Draft]:
        """`_single(kind, q)` for one node's quotes of the order's lines, scored together."""
        lines = self.ctx.lines
        legs = [leg_of(q, lines, new_work=new_work) for q in quotes]
        totals = one_leg_totals(self.view, self.order, self.ctx.priorities, legs)
        return [
            self._single(kind, q, new_work=new_work, leg=leg, total=total)
            for kind, q, leg, total in zip(kinds, quotes, legs, totals, strict=True)
        ]

    def _shortlist(self, kind: str, quotes: Sequence[Quote]) -> list[tuple[float, Quote]]:
        """(total, quote) of one node's best `SERVICES_PER_NODE` non-dominated quotes of the
        order (new work), best first: the quotes whose drafts are the same as drafting every
        quote, sorting and `_pareto`, cheaper. The quotes are priced without legs, a summary
        (the last sort key) is written only for quotes whose totals tie, and nothing is
        drafted (`_shortlisted` drafts the ones a caller keeps)."""
        if not quotes:
            return []
        lines = self.ctx.lines
        totals = shipment_totals(
            self.view,
            self.order,
            self.ctx.priorities,
            leg_of(quotes[0], lines, new_work=True),
            [(q.shipping_cost, q.handling_cost, q.on_time_probability) for q in quotes],
        )
        kept: list[tuple[float, Quote]] = []
        for i in self._ranked(kind, quotes, totals):
            q, total = quotes[i], totals[i]
            p = round(q.on_time_probability, 4)
            if not any(
                t <= total and k.eta <= q.eta and round(k.on_time_probability, 4) >= p
                for t, k in kept
            ):
                kept.append((total, q))
                if len(kept) == SERVICES_PER_NODE:
                    break
        return kept

    def _shortlisted(self, kind: str, kept: Sequence[tuple[float, Quote]]) -> list[_Draft]:
        """The drafts of `_shortlist`'s (total, quote) pairs, in their order."""
        lines = self.ctx.lines
        return [
            self._single(kind, q, new_work=True, leg=leg_of(q, lines, new_work=True), total=t)
            for t, q in kept
        ]

    def _ranked(self, kind: str, quotes: Sequence[Quote], totals: list[float]) -> list[int]:
        """Indexes of `quotes` in `_Draft.key` order (total, then summary; one kind)."""
        order = sorted(range(len(quotes)), key=totals.__getitem__)
        ranked: list[int] = []
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and totals[order[end]] == totals[order[start]]:
                end += 1
            tied = order[start:end]
            if len(tied) > 1:
                tied.sort(key=lambda i: self._summary(kind, quotes[i]))
            ranked.extend(tied)
            start = end
        return ranked

    def _summary(self, kind: str, q: Quote) -> str:
        delta = q.cost - self.base_cost
        verb, preposition, joiner = _SUMMARY_WORDS[kind]
        return (
            f"{verb} {self.order.id} {preposition} {q.node} {joiner} {q.carrier_service}: "
            f"{_money(delta)}, ETA {_fmt_time(q.eta)}, {q.on_time_probability:.0%} on time"
        )

    def _single(
        self,
        kind: str,
        q: Quote,
        *,
        new_work: bool,
        leg: Leg | None = None,
        total: float | None = None,
    ) -> _Draft:
        if leg is None:
            leg = leg_of(q, self.ctx.lines, new_work=new_work)
        delta = q.cost - self.base_cost
        summary = self._summary(kind, q)
        draft = self._draft(
            kind,
            summary,
            partial(self._ship_actions, kind, leg, delta),
            [leg],
            new_work=new_work,
            total=total,
        )
        if kind == "keep":
            draft.cost_delta = 0.0
        return draft

    # -- kinds -----------------------------------------------------------------------------
    def keep(self) -> None:
        ctx = self.ctx
        if ctx.broken or ctx.current_node is None or ctx.current_service is None:
            return
        if not ctx.keeps_own_stock():
            return
        q = ctx.current_quote()
        if q is None:
            return
        draft = self._single("keep", q, new_work=False)
        self.drafts.append(draft)
        self.shipping.append(draft)

    def same_node(self) -> None:
        """Faster services (upgrade) or other services (rebook) at the current node."""
        ctx = self.ctx
        node_id, service_id = ctx.current_node, ctx.current_service
        if node_id is None or service_id is None or not ctx.keeps_own_stock():
            return
        if not ctx.may_use_node(node_id):
            return
        current_level = SERVICE_LEVEL_SPEED[self.view.services[service_id][1].level]
        quotes = [
            q
            for q in ctx.quotes(node_id, ctx.lines)
            if not (q.carrier_service == service_id and not ctx.broken)
        ]
        kinds = [
            "upgrade_service" if SERVICE_LEVEL_SPEED[q.level] < current_level else "rebook"
            for q in quotes
        ]
        drafts = self._singles(kinds, quotes, new_work=False)
        upgrades = [d for d in drafts if d.kind == "upgrade_service"]
        rebooks = [d for d in drafts if d.kind == "rebook"]
        for group in (upgrades, rebooks):
            group.sort(key=_Draft.key)
            kept = _pareto(group)[:SERVICES_PER_NODE]
            self.drafts.extend(kept)
            self.shipping.extend(kept)

    def reallocations(self) -> None:
        """Each node's shortlist, nodes ranked by their best draft's key. Only the drafts
        kept are built: every shortlisted one of the best `NODES_KEPT` nodes, and of the
        others the best one when it arrives after the promise (it may still be re-promised;
        an on-time one is read by nothing else: splits and transfers read only the least
        total of `shipping`, which is the best node's). A node's rank key is its best
        draft's `_Draft.key`, worked out from the quote without drafting (the summary, the
        last sort key, only for nodes whose best totals tie)."""
        ctx = self.ctx
        kind = "reallocate"
        per_node: list[list[tuple[float, Quote]]] = []
        own_node = ctx.current_node if ctx.keeps_own_stock() else None
        for node_id in ctx.new_work_nodes():
            if node_id == own_node:
                continue  # the order's own node: keep / upgrade / rebook
            if not ctx.covers(node_id, ctx.lines) or not ctx.has_room(node_id, ctx.units):
                continue
            kept = self._shortlist(kind, ctx.quotes(node_id, ctx.lines))
            if kept:
                per_node.append(kept)
        best_totals = [kept[0][0] for kept in per_node]
        best_quotes = [kept[0][1] for kept in per_node]
        ranked = [per_node[i] for i in self._ranked(kind, best_quotes, best_totals)]
        for kept in ranked[:NODES_KEPT]:
            options = self._shortlisted(kind, kept)
            self.drafts.extend(options)
            self.shipping.extend(options)
        promised = self.order.promised_by
        for kept in ranked[NODES_KEPT:]:
            if kept[0][1].eta > promised:
                self.shipping.extend(self._shortlisted(kind, kept[:1]))

    def splits(self) -> None:
        best_single = min((d.total for d in self.shipping), default=math.inf)
        drafts = sorted(
            (self._split_draft(list(legs)) for legs in split_plans(self.ctx, best_single)),
            key=_Draft.key,
        )
        # Splits when no single node can ship the order, or when a split is cheaper.
        drafts = [d for d in drafts if d.total < best_single][:SPLITS_KEPT]
        self.drafts.extend(drafts)
        self.shipping.extend(drafts)

    def _split_draft(self, legs: list[Leg]) -> _Draft:
        cost = sum(leg.shipping + leg.handling for leg in legs)
        delta = cost - self.base_cost
        eta = max(leg.eta for leg in legs)
        parts = " and ".join(f"{leg.node} ({_describe_lines(leg.lines)})" for leg in legs)
        p = legs_on_time(legs)
        summary = (
            f"Split {self.order.id} across {parts}: {_money(delta)}, ETA {_fmt_time(eta)}, "
            f"{p:.0%} on time"
        )
        actions = partial(self._split_actions, legs, delta, eta)
        return self._draft("split", summary, actions, legs, new_work=True)

    def _split_actions(self, legs: list[Leg], delta: float, eta: datetime) -> list[Action]:
        all_lines: dict[str, int] = {}
        for leg in legs:
            for sku, qty in leg.lines:
                all_lines[sku] = all_lines.get(sku, 0) + qty
        action = build(
            Action,
            type=ActionType.SPLIT,
            order=self.order.id,
            lines=_action_lines(list(all_lines.items())),
            cost_delta=round(delta, 2),
            eta=eta,
            from_node=self.ctx.current_node,
            legs=[
                build(
                    SplitLeg,
                    node=leg.node,
                    carrier_service=leg.carrier_service,
                    lines=_action_lines(leg.lines),
                    cost=round(leg.shipping + leg.handling, 2),
                    eta=leg.eta,
                )
                for leg in legs
            ],
        )
        return [action]

    def transfers(self) -> None:
        """Stock moved to the order's node, then shipped from there."""
        ctx = self.ctx
        target = ctx.current_node
        if target is None or not ctx.may_use_node(target) or ctx.keeps_own_stock():
            return
        missing = [(s, q) for s, q in ctx.lines if not ctx.own_line_there(target, s, q)]
        if not missing or ctx.current_service is None:
            return
        node = self.view.nodes[target]
        target_as_destination = ShipTo(lat=node.lat, lon=node.lon, region=node.region)
        moves_to_target = QuoteBook(self.view, target_as_destination, self.order.promised_by)
        best_realloc = min(
            (d.total for d in self.shipping if d.kind in ("reallocate", "split")),
            default=math.inf,
        )
        # The lowest charge of any service out of the target for the order (it does not
        # depend on when the shipment leaves: only its P(on time) does).
        out_charge = ctx.quote_book.lowest_charge(target, self.view.lines_weight_kg(ctx.lines))
        drafts: list[_Draft] = []
        for source in self.view.nodes:
            src = self.view.nodes[source]
            if source == target or source in ctx.situation.avoid(self.order.id):
                continue
            if src.status.value == "closed" or src.capacity_units_per_day <= 0:
                continue
            if not ctx.covers(source, missing) or not ctx.has_room(
                source, sum(q for _, q in missing)
            ):
                continue
            hazmat = self.view.is_hazmat(s for s, _ in missing)
            moves = [
                q
                for q in moves_to_target.legal(
                    source,
                    self.view.lines_weight_kg(missing),
                    release_for(self.view, ctx.situation, source),
                )
                if q.carrier_service not in ctx.situation.unbookable_services
                and ctx.limits.mode_allowed(q.mode, hazmat)
                and ctx.limits.carrier_allowed(q.carrier, src.region, node.region)
            ]
            if not moves:
                continue
            move = moves[0]  # cheapest transfer
            if out_charge is None or (
                self._transfer_floor(source, missing, move, out_charge) >= best_realloc
            ):
                continue  # nothing ships out of the target, or nothing would beat reallocating
            outbound = ctx.quotes(
                target, ctx.lines, release=max(move.eta, ctx.situation.release_at)
            )
            if not outbound:
                continue
            for out in outbound[:SERVICES_PER_NODE]:
                draft = self._transfer_draft(source, missing, move, out, best_realloc)
                if draft is not None:
                    drafts.append(draft)
        drafts.sort(key=_Draft.key)
        drafts = drafts[:TRANSFERS_KEPT]
        self.drafts.extend(drafts)
        self.shipping.extend(drafts)

    def _transfer_floor(
        self, source: str, moved: list[tuple[str, int]], move: Quote, out_charge: float
    ) -> float:
        """A lower bound of the total of any transfer draft moving `moved` by `move`: the
        outbound charged `out_charge` (no less than any outbound service charges) and both
        legs sure to be on time. Every score term is >= 0 and monotone, and the split penalty
        taken off is the same whatever ships out."""
        ctx = self.ctx
        target = self.view.nodes[ctx.current_node or ""]
        at = ctx.situation.release_at
        legs = [
            Leg(
                node=source,
                carrier_service="",
                lines=tuple(moved),
                shipping=move.shipping_cost,
                handling=move.handling_cost,
                on_time_probability=1.0,
                eta=at,
                added_units=sum(q for _, q in moved),
            ),
            Leg(
                node=target.id,
                carrier_service="",
                lines=ctx.lines,
                shipping=out_charge,
                handling=target.handling_cost_per_order,
                on_time_probability=1.0,
                eta=at,
                added_units=0,
                takes_stock=False,
            ),
        ]
        plan = ScoreInput(legs=legs, on_time_probability=1.0)
        values = score_values(self.view, self.order, ctx.priorities, plan)
        return round(values["total"] - values["split_penalty"], 2)

    def _transfer_draft(
        self,
        source: str,
        moved: Lines | list[tuple[str, int]],
        move: Quote,
        out: Quote,
        below: float = math.inf,
    ) -> _Draft | None:
        """The transfer's draft, or None when its total is not below `below`."""
        ctx = self.ctx
        units = sum(q for _, q in moved)
        transfer_leg = Leg(
            node=source,
            carrier_service=move.carrier_service,
            lines=tuple(moved),
            shipping=move.shipping_cost,
            handling=move.handling_cost,
            on_time_probability=1.0,
            eta=move.eta,
            distance_km=move.distance_km,
            added_units=units,
        )
        out_leg = Leg(
            node=out.node,
            carrier_service=out.carrier_service,
            lines=ctx.lines,
            shipping=out.shipping_cost,
            handling=out.handling_cost,
            on_time_probability=out.on_time_probability,
            eta=out.eta,
            distance_km=out.distance_km,
            added_units=0,
            takes_stock=False,
        )
        delta = move.cost + out.cost - self.base_cost
        plan = ScoreInput(
            legs=[transfer_leg, out_leg],
            on_time_probability=out.on_time_probability,
            extra_notes=["transfer + outbound are one customer shipment: no split penalty"],
        )
        values = score_values(self.view, self.order, ctx.priorities, plan)
        # One parcel reaches the customer: the transfer is not a split.
        total = round(values["total"] - values["split_penalty"], 2)
        if not total < below:
            return None
        summary = (
            f"Transfer {_describe_lines(moved)} from {source} to {out.node}, then ship "
            f"{self.order.id} by {out.carrier_service}: {_money(delta)}, ETA {_fmt_time(out.eta)}, "
            f"{out.on_time_probability:.0%} on time"
        )
        return _Draft(
            kind="transfer_inventory",
            summary=summary,
            actions=partial(self._transfer_actions, source, moved, move, out),
            total=total,
            breakdown=partial(self._unsplit_score, plan),
            cost_delta=round(delta, 2),
            eta=out.eta,
            on_time_probability=round(out.on_time_probability, 4),
            units_by_node={source: units},
            capacity_by_node={source: units},
            legs=(transfer_leg, out_leg),
        )

    def _unsplit_score(self, plan: ScoreInput) -> ScoreBreakdown:
        sc = self._score(plan)
        return sc.model_copy(
            update={"split_penalty": 0.0, "total": round(sc.total - sc.split_penalty, 2)}
        )

    def _transfer_actions(
        self, source: str, moved: Lines | list[tuple[str, int]], move: Quote, out: Quote
    ) -> list[Action]:
        ctx = self.ctx
        return [
            build(
                Action,
                type=ActionType.TRANSFER_INVENTORY,
                order=self.order.id,
                node=out.node,
                from_node=source,
                carrier_service=move.carrier_service,
                lines=_action_lines(moved),
                cost_delta=round(move.cost, 2),
                eta=move.eta,
            ),
            build(
                Action,
                type=ActionType.HOLD
                if out.carrier_service == ctx.current_service
                else ActionType.BOOK_CARRIER,
                order=self.order.id,
                node=out.node,
                carrier_service=out.carrier_service,
                lines=_action_lines(ctx.lines),
                cost_delta=round(out.cost - self.base_cost, 2),
                eta=out.eta,
                reason=f"ship from {out.node} once the transfer from {source} arrives",
            ),
        ]

    def repromises(self) -> None:
        """The shipments that cannot make the promise, with the promise moved to their ETA.

        Each is priced first; only those that can still be among the best
        `REPROMISES_KEPT` (a total no higher than the best few) are drafted and summarised."""
        ctx = self.ctx
        promised = self.order.promised_by
        priced: list[tuple[float, _Draft, datetime, float, list[Leg], float]] = []
        for base in self.shipping:
            if base.eta is None or base.eta <= promised or base.kind == "transfer_inventory":
                continue
            new_promise = _end_of_day(base.eta)
            shift = (new_promise - promised) / DAY
            cap = ctx.limits.max_repromise_days
            if cap is not None and shift > cap + 1e-9:
                continue
            legs = [_against(leg, new_promise) for leg in base.legs]
            p_new = legs_on_time(legs)
            # `lateness_against` only words the notes: the total does not read it.
            total = self._total(
                ScoreInput(legs=legs, on_time_probability=p_new, promise_shift_days=shift)
            )
            priced.append((total, base, new_promise, shift, legs, p_new))
        if len(priced) > REPROMISES_KEPT:
            bar = sorted(p[0] for p in priced)[REPROMISES_KEPT - 1]
            priced = [p for p in priced if p[0] <= bar]
        drafts: list[_Draft] = []
        for total, base, new_promise, shift, legs, p_new in priced:
            plan = ScoreInput(
                legs=legs,
                on_time_probability=p_new,
                lateness_against=f"the new promise {new_promise:%a %d %b}",
                promise_shift_days=shift,
            )
            summary = (
                f"Re-promise {self.order.id} to {new_promise:%a %d %b} (+{shift:.1f} d) and "
                f"{_lower_first(base.summary.split(':')[0])}: {_money(base.cost_delta)}, "
                f"{p_new:.0%} on time for the new date"
            )
            drafts.append(
                _Draft(
                    kind="repromise",
                    summary=summary,
                    actions=partial(self._repromise_actions, base, new_promise),
                    total=total,
                    breakdown=self._explained(plan),
                    cost_delta=base.cost_delta,
                    eta=base.eta,
                    on_time_probability=base.on_time_probability,
                    units_by_node=dict(base.units_by_node),
                    capacity_by_node=dict(base.capacity_by_node),
                    legs=tuple(legs),
                )
            )
        drafts.sort(key=_Draft.key)
        self.drafts.extend(drafts[:REPROMISES_KEPT])

    def _repromise_actions(self, base: _Draft, new_promise: datetime) -> list[Action]:
        assert base.eta is not None
        promised = self.order.promised_by
        return [
            *base.actions(),
            build(
                Action,
                type=ActionType.REPROMISE,
                order=self.order.id,
                promised_by=new_promise,
                reason=(
                    f"cannot arrive by {promised:%a %d %b %H:%M}; earliest {_fmt_time(base.eta)}"
                ),
            ),
            _notify(self.order.id, f"Your order will arrive by {new_promise:%A %d %B}."),
        ]

    def unservable_lines(self) -> list[tuple[str, int]]:
        """Lines no node may serve from its stock (not even split across nodes)."""
        ctx = self.ctx
        nodes = ctx.new_work_nodes()
        own = ctx.current_node if ctx.keeps_own_stock() else None
        missing = []
        for sku, qty in ctx.lines:
            if own is not None:
                continue
            total = sum(ctx.available(n, sku) for n in nodes)
            if total < qty:
                missing.append((sku, qty))
        return missing

    def fallbacks(self) -> None:
        """Backorder and cancel when some line cannot be served by anyone, or when stock
        exists but no allowed way ships the whole order."""
        missing = self.unservable_lines()
        if not missing and self.shipping:
            return
        if not missing:
            # Every line has stock somewhere, but nothing ships the order as a whole (e.g. a
            # split would be needed and is not allowed): cancel what the best node lacks.
            missing = self._lines_best_node_lacks()
        self.drafts.append(self._backorder())
        self.drafts.append(self._cancel(missing))

    def _lines_best_node_lacks(self) -> list[tuple[str, int]]:
        ctx = self.ctx
        price = {line.sku: line.unit_price for line in self.order.lines}
        best: tuple[float, str] | None = None
        for node_id in ctx.new_work_nodes():
            value = sum(
                qty * price[sku] for sku, qty in ctx.lines if ctx.covers(node_id, [(sku, qty)])
            )
            if value > 0 and (best is None or value > best[0]):
                best = (value, node_id)
        if best is None:
            return list(ctx.lines)
        node_id = best[1]
        lacking = [(sku, qty) for sku, qty in ctx.lines if not ctx.covers(node_id, [(sku, qty)])]
        return lacking or list(ctx.lines)

    def _backorder(self) -> _Draft:
        ctx = self.ctx
        sc, new_promise, restock = backorder_score(ctx)
        shift = max(0.0, (new_promise - self.order.promised_by) / DAY)
        actions = [
            build(
                Action,
                type=ActionType.BACKORDER,
                order=self.order.id,
                lines=_action_lines(ctx.lines),
                promised_by=new_promise,
                reason=f"no node can serve it now; restock {restock:%a %d %b}",
            ),
            _notify(
                self.order.id,
                f"Your order is backordered; new delivery date {new_promise:%A %d %B}.",
            ),
        ]
        summary = (
            f"Backorder {self.order.id} until restock {restock:%a %d %b} and tell the customer: "
            f"new promise {new_promise:%a %d %b} (+{shift:.1f} d)"
        )
        p_original = 1.0 if new_promise <= self.order.promised_by else 0.0
        return _Draft(
            kind="backorder",
            summary=summary,
            actions=partial(list, actions),
            total=sc.total,
            breakdown=partial(_same, sc),
            cost_delta=0.0,
            eta=new_promise,
            on_time_probability=p_original,
        )

    def _cancel(self, missing: list[tuple[str, int]]) -> _Draft:
        ctx = self.ctx
        remaining = [
            (sku, qty - dict(missing).get(sku, 0))
            for sku, qty in ctx.lines
            if qty - dict(missing).get(sku, 0) > 0
        ]
        best = self._best_for_lines(tuple(remaining)) if remaining else None
        if remaining and best is None:  # the rest cannot ship either: cancel every line
            missing, remaining = list(ctx.lines), []
        price = {line.sku: line.unit_price for line in self.order.lines}
        cancelled = [(sku, qty, price[sku]) for sku, qty in missing]
        legs: list[Leg] = []
        actions = [
            build(
                Action,
                type=ActionType.CANCEL_LINES,
                order=self.order.id,
                lines=_action_lines(missing),
                reason="no node can serve these lines",
            )
        ]
        if remaining and best is not None:
            leg, kind = best
            legs.append(leg)
            delta_ship = leg.shipping + leg.handling - self.base_cost
            actions.insert(0, self._ship_action(kind, leg, delta_ship))
        cost = sum(leg.shipping + leg.handling for leg in legs)
        delta = cost - self.base_cost
        plan = ScoreInput(legs=legs, cancelled=cancelled)
        sc = self._score(plan)
        actions.append(
            _notify(
                self.order.id,
                f"We cannot deliver {_describe_lines(missing)}; it is cancelled and refunded.",
            )
        )
        summary = (
            f"Cancel {_describe_lines(missing)} of {self.order.id} and tell the customer"
            + (f"; ship the rest from {legs[0].node}" if legs else "")
            + f": {_money(delta)}, margin lost ${sc.margin_impact:.2f}"
        )
        units = {legs[0].node: legs[0].units} if legs and legs[0].added_units else {}
        return _Draft(
            kind="cancel_lines",
            summary=summary,
            actions=partial(list, actions),
            total=sc.total,
            breakdown=partial(_same, sc),
            cost_delta=round(delta, 2),
            eta=legs[0].eta if legs else None,
            on_time_probability=round(legs[0].on_time_probability, 4) if legs else None,
            units_by_node=units,
            capacity_by_node=dict(units),
            legs=tuple(legs),
        )

    def _best_for_lines(self, lines: Lines) -> tuple[Leg, str] | None:
        """Cheapest-by-score single-node shipment of some lines (own node first)."""
        ctx = self.ctx
        best: tuple[float, str, Leg, str] | None = None
        own = ctx.current_node if ctx.keeps_own_stock() else None
        for node_id in ctx.new_work_nodes():
            is_own = node_id == own
            if not is_own and (
                not ctx.covers(node_id, lines)
                or not ctx.has_room(node_id, sum(q for _, q in lines))
            ):
                continue
            quotes = ctx.quotes(node_id, lines)
            legs = [leg_of(q, lines, new_work=not is_own) for q in quotes]
            totals = one_leg_totals(self.view, self.order, ctx.priorities, legs)
            for q, leg, total in zip(quotes, legs, totals, strict=True):
                kind = (
                    ("keep" if q.carrier_service == ctx.current_service else "rebook")
                    if is_own
                    else "reallocate"
                )
                key = (total, f"{node_id}/{q.carrier_service}")
                if best is None or key < best[:2]:
                    best = (total, key[1], leg, kind)
        return None if best is None else (best[2], best[3])

    def run(self) -> list[_Draft]:
        self.keep()
        self.same_node()
        self.reallocations()
        self.splits()
        self.transfers()
        self.repromises()
        self.fallbacks()
        return self.drafts


def _against(leg: Leg, promise: datetime) -> Leg:
    """The leg with its on-time probability measured against another promise."""
    slack = (promise - leg.eta) / DAY
    p = on_time_probability(leg.reliability, slack, leg.transit_days, leg.disrupted)
    return leg.with_on_time(p)


def _legs_score(
    view: NetworkView, order: Order, priorities: BusinessPriorities, legs: tuple[Leg, ...]
) -> ScoreBreakdown:
    return score(view, order, priorities, ScoreInput(legs=legs))


def _same(breakdown: ScoreBreakdown) -> ScoreBreakdown:
    return breakdown


def _notify(order_id: str, message: str) -> Action:
    return build(Action, type=ActionType.NOTIFY_CUSTOMER, order=order_id, message=message)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _pareto(drafts: list[_Draft]) -> list[_Draft]:
    """Drop options another option beats on expected cost, arrival and P(on time) at once."""
    kept: list[_Draft] = []
    for d in drafts:  # sorted by score: a dominating option comes first
        dominated = any(
            k.eta is not None
            and d.eta is not None
            and k.total <= d.total
            and k.eta <= d.eta
            and (k.on_time_probability or 0.0) >= (d.on_time_probability or 0.0)
            for k in kept
        )
        if not dominated:
            kept.append(d)
    return kept


class _Covers:
    """Greedy covers of one order's lines by the nodes holding some of its stock, sharing
    the work between starting nodes: each node's available units of each line are read
    once, and the nodes' ranking for what is left to cover (most units first, ties in
    snapshot order) is worked out once per distinct remainder."""

    def __init__(self, ctx: OrderContext, nodes: list[str]) -> None:
        self.lines = ctx.lines
        self.nodes = nodes
        skus = [s for s, _ in ctx.lines]
        self.stock = {n: {s: ctx.available(n, s) for s in skus} for n in nodes}
        self._rankings: dict[tuple[tuple[str, int], ...], list[str]] = {}

    def _units(self, node: str, remaining: dict[str, int]) -> int:
        stock = self.stock[node]
        units = 0
        for s, q in remaining.items():
            a = stock[s]
            units += a if a < q else q
        return units

    def _ranking(self, remaining: dict[str, int]) -> list[str]:
        """The nodes covering some of `remaining`, most units first (ties: snapshot order)."""
        key = tuple(remaining.items())
        ranking = self._rankings.get(key)
        if ranking is None:
            scored = [(self._units(n, remaining), i, n) for i, n in enumerate(self.nodes)]
            scored.sort(key=lambda entry: (-entry[0], entry[1]))
            ranking = self._rankings[key] = [n for units, _, n in scored if units > 0]
        return ranking

    def cover(self, first: str, limit: int) -> list[tuple[str, Lines]] | None:
        """Cover the order's lines from `first`, then from the nodes covering most of what is
        left (ties: snapshot order), using at most `limit` nodes. None if it cannot."""
        remaining = dict(self.lines)
        plan: list[tuple[str, Lines]] = []
        used: set[str] = set()
        while remaining and len(plan) < limit:
            pick: str | None = None
            if not plan and self._units(first, remaining) > 0:
                pick = first
            else:
                pick = next((n for n in self._ranking(remaining) if n not in used), None)
            if pick is None:
                return None
            stock = self.stock[pick]
            take = tuple((s, min(stock[s], q)) for s, q in remaining.items() if stock[s] > 0)
            plan.append((pick, take))
            used.add(pick)
            for s, q in take:
                remaining[s] -= q
                if remaining[s] <= 0:
                    del remaining[s]
        return plan if not remaining else None


def split_plans(ctx: OrderContext, below: float = math.inf) -> list[tuple[Leg, ...]]:
    """Ways to ship the order from 2..`max_split_nodes` nodes (each leg by its best service by
    score), one per starting node of a greedy cover, without duplicates.

    With `below`, plans whose score total cannot be below it are left out unquoted: their
    score without shipping and lateness (both >= 0) is already at least `below`."""
    if any(not 0.0 <= r <= 1.0 for r in ctx.view.carrier_reliability.values()):
        below = math.inf  # P(on time) could pass 1 and lateness go negative: no bound
    limit = ctx.limits.max_split_nodes
    if limit < 2 or (len(ctx.lines) < 2 and ctx.units < 2):
        return []
    nodes = [n for n in ctx.new_work_nodes() if any(ctx.available(n, s) > 0 for s, _ in ctx.lines)]
    covers = _Covers(ctx, nodes)
    found: dict[tuple[tuple[str, Lines], ...], tuple[Leg, ...]] = {}
    for first in nodes:
        plan = covers.cover(first, limit)
        if plan is None or len(plan) < 2:
            continue
        key = tuple(sorted(plan))
        if key in found or (below < math.inf and _least_total(ctx, plan) >= below):
            continue
        legs: list[Leg] = []
        for node_id, lines in plan:
            if not ctx.has_room(node_id, sum(q for _, q in lines)):
                break
            options = [leg_of(q, lines, new_work=True) for q in ctx.quotes(node_id, lines)]
            if not options:
                break
            totals = one_leg_totals(ctx.view, ctx.order, ctx.priorities, options)
            legs.append(
                min(
                    zip(totals, options, strict=True),
                    key=lambda priced: (priced[0], priced[1].carrier_service),
                )[1]
            )
        if len(legs) == len(plan):
            found[key] = tuple(legs)
    return list(found.values())


def _least_total(ctx: OrderContext, plan: list[tuple[str, Lines]]) -> float:
    """A lower bound of the score total of shipping `plan` (node, lines) by any services:
    each leg charged the lowest carrier charge of its node's legal services for its weight
    and sure to be on time (infinite when some leg has no legal service: the plan cannot
    ship). The quotes `split_plans` picks among are a subset of those services, every score
    term is >= 0 and the sums and cents roundings are monotone: the real total is never
    lower."""
    view = ctx.view
    legs = []
    for node_id, lines in plan:
        shipping = ctx.quote_book.lowest_charge(node_id, view.lines_weight_kg(lines))
        if shipping is None:
            return math.inf
        legs.append(
            Leg(
                node=node_id,
                carrier_service="",
                lines=lines,
                shipping=shipping,
                handling=view.nodes[node_id].handling_cost_per_order,
                on_time_probability=1.0,
                eta=ctx.situation.release_at,
                added_units=sum(q for _, q in lines),
            )
        )
    return score_total(view, ctx.order, ctx.priorities, ScoreInput(legs=legs))


def _backorder_input(
    ctx: OrderContext, current: float | None = None
) -> tuple[ScoreInput, datetime, datetime]:
    sit = ctx.situation
    restock = sit.restock_at or (sit.release_at + timedelta(days=DEFAULT_RESTOCK_DAYS))
    new_promise = max(
        ctx.order.promised_by, _end_of_day(restock + timedelta(days=BACKORDER_SHIP_DAYS))
    )
    shift = max(0.0, (new_promise - ctx.order.promised_by) / DAY)
    source = (
        "the event's restock date" if sit.restock_at else f"assumed {DEFAULT_RESTOCK_DAYS:g} days"
    )
    total_cost = current_cost(ctx.view, ctx.order) if current is None else current
    node = ctx.view.nodes.get(ctx.current_node or "")
    handling = node.handling_cost_per_order if node is not None and total_cost else 0.0
    plan = ScoreInput(
        on_time_probability=BACKORDER_ON_TIME,
        lateness_against=f"the new promise {new_promise:%a %d %b}",
        promise_shift_days=shift,
        deferred_shipping=total_cost - handling,
        deferred_handling=handling,
        extra_notes=[
            f"restock {restock:%a %d %b} ({source}) + {BACKORDER_SHIP_DAYS:g} days to ship"
        ],
    )
    return plan, new_promise, restock


def backorder_score(ctx: OrderContext) -> tuple[ScoreBreakdown, datetime, datetime]:
    """(score, new promise, restock time) of backordering the order until its restock: the
    shipment is paid later at today's cost of the current allocation; the promise moves to
    the restock plus `BACKORDER_SHIP_DAYS`; the restock itself is uncertain
    (`BACKORDER_ON_TIME`)."""
    plan, new_promise, restock = _backorder_input(ctx)
    return score(ctx.view, ctx.order, ctx.priorities, plan), new_promise, restock


def backorder_penalty(ctx: OrderContext, current: float | None = None) -> float:
    """`backorder_score(ctx)[0].total`, cheaply (batch: the price of leaving an order out)."""
    plan, _, _ = _backorder_input(ctx, current)
    return score_total(ctx.view, ctx.order, ctx.priorities, plan)


def generate_candidates(
    view: NetworkView,
    situation: Situation,
    order_id: str,
    priorities: BusinessPriorities,
    limits: SourcingLimits,
    *,
    max_candidates: int = 24,
) -> list[Candidate]:
    """Every feasible, allowed resolution of one order, best (lowest expected cost) first.

    Raises `UnknownOrderError` (a KeyError) for an order that is not in the view."""
    return [
        p.make()
        for p in pending_candidates(
            view, situation, order_id, priorities, limits, max_candidates=max_candidates
        )
    ]


def pending_candidates(
    view: NetworkView,
    situation: Situation,
    order_id: str,
    priorities: BusinessPriorities,
    limits: SourcingLimits,
    *,
    max_candidates: int = 24,
) -> list[PendingCandidate]:
    """`generate_candidates`, each candidate built only when its `make()` is called (its id
    and score total are known at once): for a caller that reads only some of them."""
    order = view.orders.get(order_id)
    if order is None:
        raise UnknownOrderError(order_id)
    if max_candidates < 1:
        raise ValueError(f"max_candidates must be >= 1, got {max_candidates}")
    ctx = OrderContext(view, situation, order, priorities, limits)
    generator = _Generator(ctx)
    drafts = generator.run()
    # Drafts build their actions with the generator's methods (partials), and the generator
    # holds the drafts: a reference cycle that would leave the whole search (quotes,
    # promises, legs) to the cyclic collector. Let go of it here, so it is freed at once.
    generator.drafts, generator.shipping = [], []
    drafts.sort(key=_Draft.key)
    chosen = _diverse(drafts, max_candidates)
    return [
        PendingCandidate(
            f"{order_id}:c{i}", d.total, partial(_candidate, f"{order_id}:c{i}", order_id, d)
        )
        for i, d in enumerate(chosen, start=1)
    ]


def _candidate(candidate_id: str, order_id: str, d: _Draft) -> Candidate:
    return build(
        Candidate,
        id=candidate_id,
        kind=d.kind,
        summary=d.summary,
        actions=d.actions(),
        orders=[order_id],
        score=d.breakdown(),
        cost_delta=d.cost_delta,
        eta=d.eta,
        on_time_probability=d.on_time_probability,
        units_by_node=d.units_by_node,
        capacity_by_node=d.capacity_by_node,
    )


def _diverse(drafts: list[_Draft], limit: int) -> list[_Draft]:
    """The best `limit` drafts, always including the best of every kind present."""
    best_of_kind: dict[str, _Draft] = {}
    for d in drafts:
        best_of_kind.setdefault(d.kind, d)
    must = sorted(best_of_kind.values(), key=_Draft.key)[:limit]
    chosen = list(must)
    for d in drafts:
        if len(chosen) >= limit:
            break
        if d not in chosen:
            chosen.append(d)
    chosen.sort(key=_Draft.key)
    return chosen
