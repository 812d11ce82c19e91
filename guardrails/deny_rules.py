"""The `deny` rules of the policy: never, whoever approves. Plus overselling, always denied."""

from __future__ import annotations

from collections import defaultdict

from guardrails.context import GuardContext
from guardrails.plan_facts import PlanFacts, Shipment
from guardrails.verdicts import verdict
from guardrails.wording import plural, whole_percent
from tools.decisions import Candidate, Outcome, Verdict
from tools.network import Channel, CustomerTier, NodeKind, NodeStatus, Order, TransportMode

CLOSED_NODES = "closed_nodes"
NODE_SERVES_CHANNEL = "node_must_serve_channel"
B2B_TO_MARKETPLACE = "b2b_to_marketplace_seller"
HAZMAT_BY_AIR = "hazmat_by_air"
MAX_SPLIT_NODES = "max_split_nodes"
MAX_NODE_UTILIZATION = "max_node_utilization"
NO_OVERSELL = "no_oversell"
SAFETY_STOCK = "respect_safety_stock"
CARRIER_LISTS = "carrier_lists"


def customer_shipments(facts: PlanFacts) -> list[Shipment]:
    """Shipments that carry an order to its customer (a bare stock transfer does not)."""
    return [s for s in facts.shipments if not s.is_transfer or s.service is not None]


def is_b2b(order: Order) -> bool:
    return order.channel is Channel.B2B or order.customer_tier is CustomerTier.B2B_CONTRACT


def closed_nodes(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    if not ctx.policy.deny.closed_nodes:
        return []
    if not facts.work_nodes:
        return [verdict(CLOSED_NODES, Outcome.ALLOW, "the plan sends no work to any node", plan.id)]
    out = []
    for node_id, orders in facts.work_nodes.items():
        node = ctx.view.nodes[node_id]
        who = ", ".join(orders)
        if node.status is NodeStatus.CLOSED:
            out.append(
                verdict(
                    CLOSED_NODES,
                    Outcome.DENY,
                    f"{node_id} is closed: it takes no work ({who})",
                    plan.id,
                    orders[0] if len(orders) == 1 else None,
                )
            )
        else:
            out.append(
                verdict(
                    CLOSED_NODES,
                    Outcome.ALLOW,
                    f"{node_id} is {node.status.value} ({who})",
                    plan.id,
                )
            )
    return out


def node_serves_channel(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    if not ctx.policy.deny.node_must_serve_channel:
        return []
    pairs = sorted({(s.order, s.node) for s in customer_shipments(facts)})
    if not pairs:
        return [verdict(NODE_SERVES_CHANNEL, Outcome.ALLOW, "no order ships from a node", plan.id)]
    out = []
    for order_id, node_id in pairs:
        order, node = facts.orders[order_id], ctx.view.nodes[node_id]
        channel = order.channel.value
        if order.channel in node.channels:
            out.append(
                verdict(
                    NODE_SERVES_CHANNEL,
                    Outcome.ALLOW,
                    f"{node_id} serves {channel} orders ({order_id})",
                    plan.id,
                    order_id,
                )
            )
        else:
            served = ", ".join(c.value for c in node.channels) or "no channel"
            out.append(
                verdict(
                    NODE_SERVES_CHANNEL,
                    Outcome.DENY,
                    f"{node_id} serves {served}, not {channel} orders ({order_id})",
                    plan.id,
                    order_id,
                )
            )
    return out


def b2b_to_marketplace_seller(
    plan: Candidate, facts: PlanFacts, ctx: GuardContext
) -> list[Verdict]:
    if not ctx.policy.deny.b2b_to_marketplace_seller:
        return []
    pairs = sorted(
        {(s.order, s.node) for s in customer_shipments(facts) if is_b2b(facts.orders[s.order])}
    )
    if not pairs:
        return [
            verdict(B2B_TO_MARKETPLACE, Outcome.ALLOW, "no B2B order ships in this plan", plan.id)
        ]
    out = []
    for order_id, node_id in pairs:
        if ctx.view.nodes[node_id].kind is NodeKind.MARKETPLACE_SELLER:
            out.append(
                verdict(
                    B2B_TO_MARKETPLACE,
                    Outcome.DENY,
                    f"{order_id} is a B2B order and {node_id} is a marketplace seller",
                    plan.id,
                    order_id,
                )
            )
        else:
            out.append(
                verdict(
                    B2B_TO_MARKETPLACE,
                    Outcome.ALLOW,
                    f"B2B order {order_id} ships from {node_id}, not a marketplace seller",
                    plan.id,
                    order_id,
                )
            )
    return out


def hazmat_by_air(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    if not ctx.policy.deny.hazmat_by_air:
        return []
    view = ctx.view
    violations: dict[str, list[str]] = defaultdict(list)
    checked: dict[str, int] = defaultdict(int)
    for s in facts.shipments:
        if s.service is None:
            continue
        _, service = view.services[s.service]
        for sku, _ in s.lines:
            if not view.skus[sku].hazmat:
                continue
            checked[s.order] += 1
            if service.mode is TransportMode.AIR:
                text = f"{sku} is hazmat and {s.service} flies (air) ({s.order})"
                if text not in violations[s.order]:
                    violations[s.order].append(text)
    if not checked:
        return [verdict(HAZMAT_BY_AIR, Outcome.ALLOW, "no hazmat SKU is shipped", plan.id)]
    out: list[Verdict] = []
    for order_id in sorted(checked):
        if violations[order_id]:
            out.extend(
                verdict(HAZMAT_BY_AIR, Outcome.DENY, text, plan.id, order_id)
                for text in violations[order_id]
            )
        else:
            out.append(
                verdict(
                    HAZMAT_BY_AIR,
                    Outcome.ALLOW,
                    f"hazmat SKUs of {order_id} go by ground",
                    plan.id,
                    order_id,
                )
            )
    return out


def max_split_nodes(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    limit = ctx.policy.deny.max_split_nodes
    nodes: dict[str, set[str]] = defaultdict(set)
    for s in customer_shipments(facts):
        nodes[s.order].add(s.node)
    if not nodes:
        return [verdict(MAX_SPLIT_NODES, Outcome.ALLOW, "no order ships in this plan", plan.id)]
    out = []
    for order_id in sorted(nodes):
        count = len(nodes[order_id])
        names = ", ".join(sorted(nodes[order_id]))
        outcome = Outcome.DENY if count > limit else Outcome.ALLOW
        word = "exceeds" if count > limit else "within"
        out.append(
            verdict(
                MAX_SPLIT_NODES,
                outcome,
                f"{order_id} would ship from {plural(count, 'node')} ({names}), "
                f"{word} the limit of {limit}",
                plan.id,
                order_id,
                float(count),
                float(limit),
            )
        )
    return out


def max_node_utilization(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    cap = ctx.policy.deny.max_node_utilization
    added = {n: u for n, u in facts.capacity_added.items() if u > 0}
    if not added:
        return [
            verdict(
                MAX_NODE_UTILIZATION, Outcome.ALLOW, "the plan adds no work to any node", plan.id
            )
        ]
    out = []
    for node_id, units in added.items():
        node = ctx.view.nodes[node_id]
        if node.capacity_units_per_day <= 0:
            out.append(
                verdict(
                    MAX_NODE_UTILIZATION,
                    Outcome.DENY,
                    f"{node_id} has no pick capacity: it cannot take {plural(units, 'unit')}",
                    plan.id,
                    limit=cap,
                )
            )
            continue
        after = node.utilization(units)
        over = after > cap
        out.append(
            verdict(
                MAX_NODE_UTILIZATION,
                Outcome.DENY if over else Outcome.ALLOW,
                f"{node_id} utilisation would reach {whole_percent(after)} "
                f"(limit {whole_percent(cap)}): backlog {node.backlog_units} + {units} new "
                f"over {node.capacity_units_per_day} a day",
                plan.id,
                value=after,
                limit=cap,
            )
        )
    return out


def _free(ctx: GuardContext, node_id: str, sku: str) -> tuple[int, int, int]:
    pos = ctx.view.position(node_id, sku)
    if pos is None:
        return 0, 0, 0
    return pos.on_hand, pos.reserved, pos.safety_stock


def no_oversell(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    """Never take more than on_hand - reserved: that would sell units someone else holds."""
    if not facts.takes and not facts.undeclared_units:
        return [verdict(NO_OVERSELL, Outcome.ALLOW, "the plan takes no new stock", plan.id)]
    out = []
    for (node_id, sku), qty in facts.takes.items():
        on_hand, reserved, _ = _free(ctx, node_id, sku)
        free = on_hand - reserved
        if qty > free:
            out.append(
                verdict(
                    NO_OVERSELL,
                    Outcome.DENY,
                    f"taking {qty} x {sku} at {node_id} would oversell: {free} free "
                    f"(on hand {on_hand}, reserved {reserved})",
                    plan.id,
                    value=float(qty),
                    limit=float(free),
                )
            )
        else:
            out.append(
                verdict(
                    NO_OVERSELL,
                    Outcome.ALLOW,
                    f"taking {qty} x {sku} at {node_id} leaves {free - qty} free",
                    plan.id,
                    value=float(qty),
                    limit=float(free),
                )
            )
    for node_id, extra in facts.undeclared_units.items():
        free = sum(
            max(0, p.on_hand - p.reserved)
            for (n, _), p in ctx.view.inventory.items()
            if n == node_id
        ) - sum(q for (n, _), q in facts.takes.items() if n == node_id)
        outcome = Outcome.DENY if extra > free else Outcome.ALLOW
        out.append(
            verdict(
                NO_OVERSELL,
                outcome,
                f"the plan declares {plural(extra, 'more unit')} at {node_id} than its lines "
                f"show; {node_id} has {max(0, free)} free in all",
                plan.id,
                value=float(extra),
                limit=float(max(0, free)),
            )
        )
    return out


def respect_safety_stock(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    if not ctx.policy.deny.respect_safety_stock:
        return []
    if not facts.takes and not facts.undeclared_units:
        return [verdict(SAFETY_STOCK, Outcome.ALLOW, "the plan takes no new stock", plan.id)]
    out = []
    for (node_id, sku), qty in facts.takes.items():
        on_hand, reserved, safety = _free(ctx, node_id, sku)
        left = on_hand - reserved - qty
        below = left < safety
        out.append(
            verdict(
                SAFETY_STOCK,
                Outcome.DENY if below else Outcome.ALLOW,
                f"taking {qty} x {sku} leaves {node_id} {left} "
                f"({'below' if below else 'at or above'} safety stock {safety})",
                plan.id,
                value=float(left),
                limit=float(safety),
            )
        )
    for node_id, extra in facts.undeclared_units.items():
        spare = sum(
            max(0, p.on_hand - p.reserved - p.safety_stock)
            for (n, _), p in ctx.view.inventory.items()
            if n == node_id
        ) - sum(q for (n, _), q in facts.takes.items() if n == node_id)
        below = extra > spare
        out.append(
            verdict(
                SAFETY_STOCK,
                Outcome.DENY if below else Outcome.ALLOW,
                f"the plan declares {plural(extra, 'more unit')} at {node_id} than its lines "
                f"show; {node_id} has {max(0, spare)} above safety stock in all",
                plan.id,
                value=float(extra),
                limit=float(max(0, spare)),
            )
        )
    return out


def carrier_lists(plan: Candidate, facts: PlanFacts, ctx: GuardContext) -> list[Verdict]:
    lists = ctx.policy.carriers
    if not lists.allow and not lists.deny:
        return []
    pairs = sorted({(s.order, s.service) for s in facts.shipments if s.service is not None})
    if not pairs:
        return [verdict(CARRIER_LISTS, Outcome.ALLOW, "the plan books no carrier", plan.id)]
    out = []
    for order_id, service_id in pairs:
        carrier, _ = ctx.view.services[service_id]
        region = facts.orders[order_id].ship_to.region
        why = lists.why_not(carrier.id, region)
        if why:
            out.append(
                verdict(
                    CARRIER_LISTS,
                    Outcome.DENY,
                    f"{why} ({service_id}, {order_id})",
                    plan.id,
                    order_id,
                )
            )
        else:
            out.append(
                verdict(
                    CARRIER_LISTS,
                    Outcome.ALLOW,
                    f"{carrier.id} may carry into {region} ({service_id}, {order_id})",
                    plan.id,
                    order_id,
                )
            )
    return out
