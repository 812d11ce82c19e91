"""Batch re-sourcing: every order a network-wide event touches, re-planned at once.

A store buried by a promotion surge, a DC outage, a lane disruption: hundreds or thousands of
orders need a new node or service, and they compete for the same node capacity and stock.
`plan_batch` builds, per affected order, its best options by expected cost (the score of
`tools.sourcing.score`):

- keep the current allocation, when it stands (uses nothing new), and the same node with
  another service (own stock, no new pick work);
- the `options_per_order` best single-node shipments among the `nearest_nodes` nearest
  eligible nodes with stock, priced for every legal service (`BatchPricer`, vectorised);
- split shipments when no single node can ship the order;
- backorder, as the price of leaving the order uncovered;

with resources = each node's pick capacity left under `max_node_utilization` and each node's
stock per SKU (ATP, under safety stock when the policy says so), and solves the assignment with
the generic engine (`tools.sourcing.assignment`): minimum total expected cost, within every
capacity. The plan reports per order before/after, totals, the LP lower bound and the gap.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tools.carriers import current_cost
from tools.decisions import Action, ActionLine, ActionType, Candidate, ScoreBreakdown, SplitLeg
from tools.network import SERVICE_LEVEL_SPEED
from tools.priorities import BusinessPriorities
from tools.sourcing.assignment import (
    UNCOVERED,
    AssignmentBuilder,
    AssignmentProblem,
    SolverSettings,
    gap_pct,
    solve_assignment,
)
from tools.sourcing.candidates import backorder_penalty, backorder_score, split_plans
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.options import OrderContext, leg_of, order_lines
from tools.sourcing.pricing import BatchPricer, PricedOptions, haversine_km
from tools.sourcing.score import Leg, ScoreInput, cents, score
from tools.sourcing.situation import Situation
from tools.view import NetworkView

OPTIONS_PER_ORDER = 6
NEAREST_NODES = 10


class Shipment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: str
    carrier_service: str
    cost: float
    eta: datetime | None = None
    on_time_probability: float | None = None
    lines: list[ActionLine] = Field(default_factory=list)


class OrderPlan(BaseModel):
    """One order before and after the batch plan."""

    model_config = ConfigDict(extra="forbid")

    order: str
    kind: str  # keep | reallocate | upgrade_service | rebook | split | backorder
    before: Shipment | None
    after: list[Shipment]
    expected_cost_before: float
    expected_cost_after: float
    cost_delta: float
    score: ScoreBreakdown
    reason: str | None = None


class UncoveredOrder(BaseModel):
    """An order the plan gives no shipment (it is backordered), and why."""

    model_config = ConfigDict(extra="forbid")

    order: str
    reason: str
    # no_option: nothing can ship it; capacity: the room/stock went to other orders;
    # cheaper_to_wait: a shipment exists but backordering costs less in expectation.
    cause: str = "no_option"


class BatchPlan(BaseModel):
    """The re-sourcing plan for a batch of orders (see module docstring)."""

    model_config = ConfigDict(extra="forbid")

    orders: list[OrderPlan]
    total_expected_cost_before: float
    total_expected_cost_after: float
    lower_bound: float | None
    gap_pct: float | None
    seconds: float
    method: str
    optimal: bool
    time_limited: bool
    uncovered: list[UncoveredOrder]
    options: int
    resources: int
    notes: list[str] = Field(default_factory=list)

    @property
    def cannot_cover(self) -> list[UncoveredOrder]:
        """Orders left without a shipment for want of an option or of capacity/stock."""
        return [u for u in self.uncovered if u.cause != "cheaper_to_wait"]

    @property
    def feasible(self) -> bool:
        """Every order is covered: shipped (kept, moved or split) or, where that costs less
        in expectation, deliberately backordered; none is left over for want of capacity."""
        return not self.cannot_cover

    def to_candidate(self, candidate_id: str = "batch:c1") -> Candidate:
        """One candidate of kind `batch` whose actions cover every order of the plan:
        a shipping action per changed order, `hold` for kept ones, `backorder` + customer
        notice for uncovered ones (also listed in `uncovered_orders`)."""
        actions: list[Action] = []
        units: dict[str, int] = {}
        terms = dict.fromkeys(
            (
                "shipping",
                "handling",
                "lateness_risk",
                "split_penalty",
                "inventory_risk",
                "node_strain",
                "margin_impact",
                "promise_change",
            ),
            0.0,
        )
        on_time: list[float] = []
        etas: list[datetime] = []
        for plan in self.orders:
            actions.extend(_actions_of(plan))
            for name in terms:
                terms[name] += getattr(plan.score, name)
            if plan.kind not in ("keep", "upgrade_service", "rebook", "backorder"):
                for ship in plan.after:
                    units[ship.node] = units.get(ship.node, 0) + sum(x.qty for x in ship.lines)
            for ship in plan.after:
                if ship.eta is not None:
                    etas.append(ship.eta)
            if plan.after and plan.after[0].on_time_probability is not None:
                on_time.append(min(s.on_time_probability or 0.0 for s in plan.after))
        moved = sum(1 for p in self.orders if p.kind not in ("keep",))
        total = cents(sum(cents(v) for v in terms.values()))
        summary = (
            f"Re-plan {len(self.orders)} orders ({moved} changed, {len(self.uncovered)} "
            f"uncovered): expected cost ${self.total_expected_cost_before:,.2f} -> "
            f"${self.total_expected_cost_after:,.2f}"
            + (f", within {self.gap_pct:.2f}% of the LP bound" if self.gap_pct is not None else "")
        )
        return Candidate(
            id=candidate_id,
            kind="batch",
            summary=summary,
            actions=actions,
            orders=[p.order for p in self.orders],
            score=ScoreBreakdown(
                total=total,
                **{k: cents(v) for k, v in terms.items()},
                notes=[
                    f"sum over {len(self.orders)} orders; method {self.method}, "
                    f"{self.seconds:.2f} s",
                    *self.notes,
                ],
            ),
            cost_delta=round(sum(p.cost_delta for p in self.orders), 2),
            eta=max(etas) if etas else None,
            on_time_probability=round(sum(on_time) / len(on_time), 4) if on_time else None,
            units_by_node=units,
            capacity_by_node=dict(units),
            uncovered_orders=[u.order for u in self.uncovered] or None,
        )


def _actions_of(plan: OrderPlan) -> list[Action]:
    if plan.kind == "backorder":
        return [
            Action(
                type=ActionType.BACKORDER,
                order=plan.order,
                reason=plan.reason,
                lines=plan.before.lines if plan.before else [],
            ),
            Action(
                type=ActionType.NOTIFY_CUSTOMER,
                order=plan.order,
                message="Your order is backordered; we will confirm a new delivery date.",
            ),
        ]
    if plan.kind == "split":
        lines: dict[str, int] = {}
        for s in plan.after:
            for x in s.lines:
                lines[x.sku] = lines.get(x.sku, 0) + x.qty
        return [
            Action(
                type=ActionType.SPLIT,
                order=plan.order,
                lines=[ActionLine(sku=k, qty=v) for k, v in lines.items()],
                cost_delta=plan.cost_delta,
                eta=max((s.eta for s in plan.after if s.eta), default=None),
                from_node=plan.before.node if plan.before else None,
                legs=[
                    SplitLeg(
                        node=s.node,
                        carrier_service=s.carrier_service,
                        lines=s.lines,
                        cost=s.cost,
                        eta=s.eta,
                    )
                    for s in plan.after
                ],
            )
        ]
    types = {
        "keep": ActionType.HOLD,
        "reallocate": ActionType.REALLOCATE,
        "upgrade_service": ActionType.UPGRADE_SERVICE,
        "rebook": ActionType.BOOK_CARRIER,
    }
    ship = plan.after[0]
    return [
        Action(
            type=types[plan.kind],
            order=plan.order,
            node=ship.node,
            carrier_service=ship.carrier_service,
            lines=ship.lines,
            cost_delta=plan.cost_delta,
            eta=ship.eta,
            from_node=plan.before.node if plan.before and plan.kind == "reallocate" else None,
            reason="keep the current allocation" if plan.kind == "keep" else None,
        )
    ]


class _Option:
    """One option of one order, as the batch builds it."""

    __slots__ = ("breakdown", "cost", "kind", "legs", "uses", "vec_pos")

    def __init__(
        self,
        kind: str,
        cost: float,
        legs: tuple[Leg, ...],
        uses: dict[str, float],
        breakdown: ScoreBreakdown | None,
        vec_pos: int = -1,
    ) -> None:
        self.kind, self.cost, self.legs, self.uses = kind, cost, legs, uses
        self.breakdown, self.vec_pos = breakdown, vec_pos


def _new_work_uses(legs: Sequence[Leg]) -> dict[str, float]:
    uses: dict[str, float] = {}
    for leg in legs:
        uses[f"cap:{leg.node}"] = uses.get(f"cap:{leg.node}", 0.0) + leg.units
        for sku, qty in leg.lines:
            key = f"inv:{leg.node}/{sku}"
            uses[key] = uses.get(key, 0.0) + qty
    return uses


def _own_node_options(ctx: OrderContext) -> list[_Option]:
    """Keep (when the allocation stands) and other services at the order's own node."""
    if not ctx.keeps_own_stock():
        return []
    node_id, service_id = ctx.current_node, ctx.current_service
    if node_id is None or service_id is None:
        return []
    found: list[_Option] = []
    if not ctx.broken:
        q = ctx.current_quote()
        if q is not None:
            leg = leg_of(q, ctx.lines, new_work=False)
            sc = score(ctx.view, ctx.order, ctx.priorities, ScoreInput(legs=[leg]))
            found.append(_Option("keep", sc.total, (leg,), {}, sc))
    if ctx.may_use_node(node_id):
        level = SERVICE_LEVEL_SPEED[ctx.view.services[service_id][1].level]
        for q in ctx.quotes(node_id, ctx.lines):
            if q.carrier_service == service_id and not ctx.broken:
                continue
            leg = leg_of(q, ctx.lines, new_work=False)
            sc = score(ctx.view, ctx.order, ctx.priorities, ScoreInput(legs=[leg]))
            kind = "upgrade_service" if SERVICE_LEVEL_SPEED[q.level] < level else "rebook"
            found.append(_Option(kind, sc.total, (leg,), {}, sc))
    found.sort(key=lambda o: (o.cost, o.legs[0].carrier_service))
    return found[:3]


def _vector_options(
    pricer: BatchPricer, nearest_nodes: int, per_order: int, exclude_node: np.ndarray
) -> PricedOptions:
    """The best `per_order` legal single-node options per order among its nearest eligible
    nodes, every service priced. `exclude_node[i]`: a node index to leave out (own node)."""
    n_orders = len(pricer.orders)
    eligible = pricer.eligible()
    rows = np.arange(n_orders)
    valid_ex = exclude_node >= 0
    eligible[rows[valid_ex], exclude_node[valid_ex]] = False
    dist = haversine_km(
        pricer.node_lat[None, :],
        pricer.node_lon[None, :],
        pricer.o_lat[:, None],
        pricer.o_lon[:, None],
    )
    dist = np.where(eligible, dist, np.inf)
    k = min(nearest_nodes, dist.shape[1])
    if k == 0 or n_orders == 0:
        empty = np.zeros(0, dtype=np.int64)
        options, _ = pricer.price(empty, empty, empty)
        return options
    near = (
        np.argpartition(dist, k - 1, axis=1)[:, :k]
        if k < dist.shape[1]
        else (np.tile(np.arange(dist.shape[1]), (n_orders, 1)))
    )
    pair_order = np.repeat(rows, near.shape[1])
    pair_node = near.ravel()
    keep = np.isfinite(dist[pair_order, pair_node])
    pair_order, pair_node = pair_order[keep], pair_node[keep]
    n_svc = len(pricer.service_ids)
    order = np.repeat(pair_order, n_svc)
    node = np.repeat(pair_node, n_svc)
    service = np.tile(np.arange(n_svc, dtype=np.int64), len(pair_order))
    options, legal = pricer.price(order, node, service)
    options = options.take(legal)
    # Best `per_order` per order: sort by (order, total, node, service), rank within order.
    idx = np.lexsort((options.service, options.node, options.total, options.order))
    options = options.take(idx)
    first = np.r_[0, np.flatnonzero(np.diff(options.order)) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, len(options.order)]))
    rank = np.arange(len(options.order)) - starts
    return options.take(rank < per_order)


def plan_batch(
    view: NetworkView,
    situation: Situation,
    priorities: BusinessPriorities,
    limits: SourcingLimits,
    *,
    time_limit_s: float = 5.0,
    options_per_order: int = OPTIONS_PER_ORDER,
    nearest_nodes: int = NEAREST_NODES,
    settings: SolverSettings | None = None,
) -> BatchPlan:
    """Re-plan every affected order of `situation` at minimum total expected cost within node
    capacity and stock; see the module docstring. Deterministic for the same inputs unless
    the time limit cuts the search short (then `time_limited` says so)."""
    t0 = time.perf_counter()
    orders = [view.orders[o] for o in situation.affected_orders if o in view.orders]
    pricer = BatchPricer(view, situation, priorities, limits, orders)
    contexts = [OrderContext(view, situation, o, priorities, limits) for o in orders]

    own: list[list[_Option]] = [_own_node_options(ctx) for ctx in contexts]
    exclude = np.array(
        [
            pricer.node_index[ctx.current_node] if ctx.current_node and own[i] else -1
            for i, ctx in enumerate(contexts)
        ],
        dtype=np.int64,
    )
    vec = _vector_options(pricer, nearest_nodes, options_per_order, exclude)
    has_vec = np.zeros(len(orders), dtype=bool)
    has_vec[vec.order] = True

    builder = AssignmentBuilder()
    node_room = {nid: float(limits.capacity_left(view.nodes[nid])) for nid in pricer.node_ids}

    resource_ids: dict[str, int] = {}

    def resource(name: str) -> int:
        found = resource_ids.get(name)
        if found is not None:
            return found
        if name.startswith("cap:"):
            found = builder.resource(name, node_room[name[4:]])
        else:
            node_id, sku = name[4:].split("/", 1)
            atp = view.atp(node_id, sku, include_safety_stock=not limits.respect_safety_stock)
            found = builder.resource(name, float(atp))
        resource_ids[name] = found
        return found

    cap_names = [f"cap:{n}" for n in pricer.node_ids]
    options: list[_Option] = []
    extra_vec: dict[int, PricedOptions] = {}  # options added after the solve: their pricing
    currents = [current_cost(view, o) for o in orders]
    penalties: list[float] = []
    group_of_node = {nid: i for i, nid in enumerate(pricer.node_ids)}
    vec_start = np.searchsorted(vec.order, np.arange(len(orders) + 1))
    lines_of = [order_lines(o) for o in orders]
    for i, ctx in enumerate(contexts):
        penalty = backorder_penalty(ctx, currents[i])
        penalties.append(penalty)
        job = builder.job(orders[i].id, uncovered_penalty=penalty)
        for opt in own[i]:
            options.append(opt)
            builder.option(job, opt.cost, {}, group=group_of_node[opt.legs[0].node])
        for pos in range(vec_start[i], vec_start[i + 1]):
            n = int(vec.node[pos])
            node_id = pricer.node_ids[n]
            units = float(orders[i].units)
            uses = {resource(cap_names[n]): units}
            for sku, qty in lines_of[i]:
                uses[resource(f"inv:{node_id}/{sku}")] = float(qty)
            options.append(_Option("reallocate", float(vec.total[pos]), (), {}, None, pos))
            builder.option(job, float(vec.total[pos]), uses, group=group_of_node[node_id])
        if not has_vec[i] and not own[i]:
            for legs in split_plans(ctx):
                sc = score(view, ctx.order, priorities, ScoreInput(legs=list(legs)))
                uses = {resource(k): v for k, v in _new_work_uses(legs).items()}
                options.append(_Option("split", sc.total, legs, {}, sc))
                builder.option(job, sc.total, uses, group=group_of_node[legs[0].node])
    problem = builder.build()
    build_seconds = time.perf_counter() - t0
    remaining = max(0.05, time_limit_s - build_seconds)
    base = settings or SolverSettings()
    cfg = replace(base, time_limit_s=min(base.time_limit_s, remaining) if settings else remaining)
    solution = solve_assignment(problem, cfg)
    choice = list(solution.choice)
    rescued = _cover_left_out(
        pricer, problem, choice, penalties, resource_ids, exclude, options_per_order
    )
    for i, (pos, ext) in rescued.items():
        options.append(_Option("reallocate", float(ext.total[pos]), (), {}, None, pos))
        choice[i] = len(options) - 1
        extra_vec[len(options) - 1] = ext

    plans: list[OrderPlan] = []
    uncovered: list[UncoveredOrder] = []
    before_total = after_total = 0.0
    for i, ctx in enumerate(contexts):
        before, before_cost = _before(ctx, own[i], penalties[i], currents[i])
        k = choice[i]
        if k == UNCOVERED:
            back = backorder_score(ctx)[0]
            cheapest = min(
                (float(problem.option_cost[x]) for x in np.flatnonzero(problem.option_job == i)),
                default=None,
            )
            if cheapest is None:
                cause, reason = "no_option", "no node can ship it: no stock, no legal service"
            elif cheapest < back.total:
                cause, reason = (
                    "capacity",
                    "capacity or stock taken by orders it is cheaper to serve",
                )
            else:
                cause, reason = "cheaper_to_wait", "backordering costs less than any shipment"
            uncovered.append(UncoveredOrder(order=ctx.order.id, reason=reason, cause=cause))
            plan = OrderPlan.model_construct(
                order=ctx.order.id,
                kind="backorder",
                before=before,
                after=[],
                expected_cost_before=before_cost,
                expected_cost_after=back.total,
                cost_delta=0.0,
                score=back,
                reason=reason,
            )
        else:
            opt = options[k]
            if opt.vec_pos >= 0:
                source = extra_vec.get(k, vec)
                opt.legs = (_leg_from_vector(pricer, source, opt.vec_pos, lines_of[i]),)
                opt.breakdown = _vector_breakdown(pricer, source, opt.vec_pos, opt.legs[0])
            if opt.breakdown is None:  # pragma: no cover - every option gets its breakdown
                raise AssertionError(f"option {k} of {ctx.order.id} was never priced")
            sc = opt.breakdown
            cost = sum(leg.shipping + leg.handling for leg in opt.legs)
            plan = OrderPlan.model_construct(
                order=ctx.order.id,
                kind=opt.kind,
                before=before,
                after=[_shipment(leg) for leg in opt.legs],
                expected_cost_before=before_cost,
                expected_cost_after=sc.total,
                cost_delta=0.0 if opt.kind == "keep" else round(cost - currents[i], 2),
                score=sc,
            )
        before_total += plan.expected_cost_before
        after_total += plan.expected_cost_after
        plans.append(plan)
    seconds = time.perf_counter() - t0
    bound = _bound_with_rescued(solution.lower_bound, rescued, penalties)
    return BatchPlan(
        orders=plans,
        total_expected_cost_before=round(before_total, 2),
        total_expected_cost_after=round(after_total, 2),
        lower_bound=None if bound is None else round(bound, 4),
        gap_pct=_gap(after_total, bound),
        seconds=round(seconds, 3),
        method=solution.method,
        optimal=solution.optimal,
        time_limited=seconds >= time_limit_s,
        uncovered=uncovered,
        options=problem.n_options,
        resources=problem.n_resources,
        notes=[
            f"{len(orders)} orders, {problem.n_options} options, {problem.n_resources} "
            f"resources; built in {build_seconds:.2f} s, solved in {solution.seconds:.2f} s",
            f"lower bound: LP relaxation over the {options_per_order} best options of each "
            f"order among its {nearest_nodes} nearest eligible nodes (plus keep and splits)",
            *(
                [
                    f"{len(rescued)} order(s) left out by the plan placed on farther nodes "
                    "(the bound is lowered by what each placement saves on leaving it out)"
                ]
                if rescued
                else []
            ),
        ],
    )


def _bound_with_rescued(
    bound: float | None,
    rescued: dict[int, tuple[int, PricedOptions]],
    penalties: list[float],
) -> float | None:
    """The LP bound, valid for the plan even when orders were placed beyond their shortlist.

    The LP sees only each order's shortlist, and an order it leaves out is charged its
    backorder penalty; `_cover_left_out` may then place such an order on a farther node for
    less. Any LP solution that also had those placements can be turned into one of the
    shortlist's LP by leaving each such order out for that share instead, which costs at most
    (penalty - placement) more per order: so the LP over shortlists plus placements is at least
    the shortlist's bound less those savings, and the plan (a solution of it) is too."""
    if bound is None or not rescued:
        return bound
    return bound - sum(penalties[i] - float(ext.total[pos]) for i, (pos, ext) in rescued.items())


def _gap(objective: float, bound: float | None) -> float | None:
    found = gap_pct(objective, bound)
    return None if found is None else round(found, 4)


def _cover_left_out(
    pricer: BatchPricer,
    problem: AssignmentProblem,
    choice: list[int],
    penalties: list[float],
    resource_ids: dict[str, int],
    exclude: np.ndarray,
    per_order: int,
) -> dict[int, tuple[int, PricedOptions]]:
    """Orders the plan leaves out while cheaper shipments exist beyond their shortlist: give
    each, in turn, the cheapest option from any eligible node that still fits the capacity
    and stock the plan leaves. Returns {order position: (option index, its pricing)}."""
    left = [i for i, k in enumerate(choice) if k == UNCOVERED]
    if not left:
        return {}
    residual = problem.capacity - problem.loads(np.asarray(choice))
    eligible = pricer.eligible()
    n_svc = len(pricer.service_ids)
    found: dict[int, tuple[int, PricedOptions]] = {}
    untouched: dict[str, float] = {}
    for i in left:
        nodes = np.flatnonzero(eligible[i])
        nodes = nodes[nodes != exclude[i]]
        if len(nodes) == 0:
            continue
        order = np.full(len(nodes) * n_svc, i, dtype=np.int64)
        node = np.repeat(nodes, n_svc)
        service = np.tile(np.arange(n_svc, dtype=np.int64), len(nodes))
        priced, legal = pricer.price(order, node, service)
        priced = priced.take(legal)
        ranked = np.lexsort((priced.service, priced.node, priced.total))
        lines = order_lines(pricer.orders[i])
        for pos in ranked[: per_order * 4].tolist():
            if priced.total[pos] >= penalties[i]:
                break
            n = int(priced.node[pos])
            node_id = pricer.node_ids[n]
            needs = [(f"cap:{node_id}", float(pricer.orders[i].units), pricer.room[n])] + [
                (f"inv:{node_id}/{sku}", float(qty), pricer.atp[n, pricer.sku_index[sku]])
                for sku, qty in lines
            ]
            for name, _, full in needs:  # resources no option used so far: all still free
                if name not in resource_ids and name not in untouched:
                    untouched[name] = float(full)

            def left_of(name: str) -> float:
                if name in resource_ids:
                    return float(residual[resource_ids[name]])
                return untouched[name]

            if all(left_of(name) + 1e-9 >= amount for name, amount, _ in needs):
                for name, amount, _ in needs:
                    if name in resource_ids:
                        residual[resource_ids[name]] -= amount
                    else:
                        untouched[name] -= amount
                found[i] = (pos, priced)
                break
    return found


def _leg_from_vector(
    pricer: BatchPricer, vec: PricedOptions, pos: int, lines: tuple[tuple[str, int], ...]
) -> Leg:
    return Leg(
        node=pricer.node_ids[int(vec.node[pos])],
        carrier_service=pricer.service_ids[int(vec.service[pos])],
        lines=lines,
        shipping=float(vec.shipping[pos]),
        handling=float(vec.handling[pos]),
        on_time_probability=float(vec.p_on_time[pos]),
        eta=datetime.fromtimestamp(float(vec.eta_s[pos]), tz=UTC),
        distance_km=float(vec.distance_km[pos]),
        added_units=sum(q for _, q in lines),
    )


def _vector_breakdown(
    pricer: BatchPricer, vec: PricedOptions, pos: int, leg: Leg
) -> ScoreBreakdown:
    """The score breakdown of a vector-priced option (the same terms `score` computes)."""
    w = pricer.priorities.cost_weight
    return ScoreBreakdown.model_construct(
        total=float(vec.total[pos]),
        shipping=cents(w * float(vec.shipping[pos])),
        handling=cents(w * float(vec.handling[pos])),
        lateness_risk=float(vec.lateness[pos]),
        inventory_risk=float(vec.inventory_risk[pos]),
        node_strain=float(vec.node_strain[pos]),
        notes=[
            f"{leg.carrier_service} from {leg.node}, {leg.distance_km:.0f} km, "
            f"{leg.on_time_probability:.1%} on time (batch pricing)"
        ],
    )


def _shipment(leg: Leg) -> Shipment:
    return Shipment.model_construct(
        node=leg.node,
        carrier_service=leg.carrier_service,
        cost=round(leg.shipping + leg.handling, 2),
        eta=leg.eta,
        on_time_probability=round(leg.on_time_probability, 4),
        lines=[ActionLine.model_construct(sku=s, qty=q) for s, q in leg.lines],
    )


def _before(
    ctx: OrderContext, own: list[_Option], back: float, current: float
) -> tuple[Shipment | None, float]:
    """The current allocation and the expected cost of leaving it as it is: its keep score
    when it stands, the backorder cost when it cannot ship."""
    alloc = ctx.order.allocation
    if alloc is None:
        return None, back
    q = ctx.current_quote()
    ship = Shipment.model_construct(
        node=alloc.node,
        carrier_service=alloc.carrier_service,
        cost=round(current, 2),
        eta=q.eta if q else None,
        on_time_probability=round(q.on_time_probability, 4) if q else None,
        lines=[ActionLine.model_construct(sku=s, qty=n) for s, n in ctx.lines],
    )
    keep = next((o for o in own if o.kind == "keep"), None)
    return ship, keep.cost if keep is not None else back
