"""Reusable hypothesis strategies: random networks, policies and plans (hostile ones included).

- `snapshots()`: valid `NetworkSnapshot`s with nodes of every kind and status, hazmat and plain
  SKUs, carriers with air and ground services and disrupted regions, orders of every channel,
  tier and status (allocated or not), inventory with reserved and safety stock.
- `policies()`: valid `Policy`s over every autonomy level, threshold and switch.
- `plans(snapshot)`: `Candidate`s of every action type over the snapshot's ids, sometimes with
  unknown ids, lines not in the order, huge quantities, non-finite costs, orders outside the
  plan's list: what a hostile or confused LLM might produce.
- `scenarios()`: (snapshot, policy, plan, recent actions by node) together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from guardrails.policy_schema import Policy
from tools.decisions import ActionType, Candidate
from tools.network import (
    ACTIONABLE_ORDER_STATUSES,
    Channel,
    CustomerTier,
    NetworkSnapshot,
    NodeKind,
    NodeStatus,
    Order,
    OrderStatus,
    ServiceLevel,
    TransportMode,
)

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
REGIONS = ["NE", "SE", "MW", "W"]
UNKNOWN = "X-UNKNOWN"

small_money = st.floats(min_value=-200.0, max_value=200.0, allow_nan=False, allow_infinity=False)
any_cost = st.one_of(
    small_money,
    small_money,
    small_money,
    st.sampled_from([0.0, 25.0, 1e12, -1e12, float("nan"), float("inf"), float("-inf")]),
)


@st.composite
def snapshots(draw: st.DrawFn, max_nodes: int = 6, max_orders: int = 6) -> NetworkSnapshot:
    n_skus = draw(st.integers(1, 4))
    skus = [
        {
            "id": f"S{j}",
            "weight_kg": draw(st.floats(0.1, 30.0)),
            "hazmat": draw(st.booleans()),
            "unit_cost": draw(st.floats(0.0, 100.0)),
        }
        for j in range(n_skus)
    ]
    n_nodes = draw(st.integers(1, max_nodes))
    nodes = []
    for i in range(n_nodes):
        capacity = draw(st.sampled_from([0, 10, 100, 1000, 1000, 5000]))
        nodes.append(
            {
                "id": f"N{i}",
                "kind": draw(st.sampled_from(list(NodeKind))).value,
                "region": draw(st.sampled_from(REGIONS)),
                "lat": draw(st.floats(25.0, 48.0)),
                "lon": draw(st.floats(-122.0, -70.0)),
                "status": draw(st.sampled_from([*NodeStatus, NodeStatus.OPEN])).value,
                "channels": [
                    c.value
                    for c in draw(
                        st.sets(
                            st.sampled_from(list(Channel)),
                            min_size=draw(st.sampled_from([0, 1, 1])),
                        )
                    )
                ],
                "capacity_units_per_day": capacity,
                "backlog_units": draw(st.integers(0, capacity + capacity // 4)),
                "handling_cost_per_order": draw(st.floats(0.0, 10.0)),
                "processing_days": draw(st.floats(0.0, 2.0)),
                "cutoff_hour_utc": draw(st.integers(0, 23)),
                "inventory_accuracy": draw(st.floats(0.5, 1.0)),
            }
        )
    inventory = []
    for node in nodes:
        for sku in skus:
            if draw(st.integers(0, 3)) > 0:
                on_hand = draw(st.sampled_from([0, 5, 30, 200]))
                inventory.append(
                    {
                        "node": node["id"],
                        "sku": sku["id"],
                        "on_hand": on_hand,
                        "reserved": draw(st.integers(0, on_hand // 2)),
                        "safety_stock": draw(st.sampled_from([0, 1, 5])),
                    }
                )
    carriers = []
    services: list[str] = []
    for c in range(draw(st.integers(1, 3))):
        own = []
        for s in range(draw(st.integers(1, 3))):
            service_id = f"C{c}-{s}"
            services.append(service_id)
            own.append(
                {
                    "id": service_id,
                    "level": draw(st.sampled_from(list(ServiceLevel))).value,
                    "mode": draw(st.sampled_from(list(TransportMode))).value,
                    "base_rate": draw(st.floats(0.0, 20.0)),
                    "rate_per_kg": draw(st.floats(0.0, 2.0)),
                    "rate_per_100km": draw(st.floats(0.0, 2.0)),
                    "transit_days_base": draw(st.floats(0.0, 5.0)),
                    "transit_days_per_1000km": draw(st.floats(0.0, 3.0)),
                    "max_weight_kg": draw(st.floats(1.0, 1000.0)),
                    "max_distance_km": draw(st.none() | st.floats(100.0, 5000.0)),
                }
            )
        carriers.append(
            {
                "id": f"C{c}",
                "regions": draw(st.lists(st.sampled_from(REGIONS), min_size=1, unique=True)),
                "on_time_rate": draw(st.floats(0.5, 1.0)),
                "disrupted_regions": draw(st.lists(st.sampled_from(REGIONS), unique=True)),
                "services": own,
            }
        )
    orders = []
    for k in range(draw(st.integers(0, max_orders) | st.integers(1, max_orders))):
        line_skus = draw(
            st.lists(st.sampled_from([s["id"] for s in skus]), min_size=1, max_size=3, unique=True)
        )
        allocated = draw(st.booleans())
        orders.append(
            {
                "id": f"O{k}",
                "channel": draw(st.sampled_from(list(Channel))).value,
                "customer_tier": draw(st.sampled_from(list(CustomerTier))).value,
                "ship_to": {
                    "lat": draw(st.floats(25.0, 48.0)),
                    "lon": draw(st.floats(-122.0, -70.0)),
                    "region": draw(st.sampled_from(REGIONS)),
                    "postal_code": "00000",
                },
                "lines": [
                    {
                        "sku": sku,
                        "qty": draw(st.integers(1, 10)),
                        "unit_price": draw(st.sampled_from([0.0, 5.0, 50.0, 200.0])),
                    }
                    for sku in line_skus
                ],
                "created_at": (AS_OF - timedelta(days=1)).isoformat(),
                "promised_by": (AS_OF + timedelta(hours=draw(st.integers(-24, 240)))).isoformat(),
                "allocation": (
                    {
                        "node": draw(st.sampled_from([n["id"] for n in nodes])),
                        "carrier_service": draw(st.sampled_from(services)),
                    }
                    if allocated
                    else None
                ),
                "status": draw(
                    st.sampled_from([*OrderStatus, OrderStatus.ALLOCATED, OrderStatus.OPEN])
                ).value,
            }
        )
    return NetworkSnapshot.model_validate(
        {
            "as_of": AS_OF.isoformat(),
            "skus": skus,
            "nodes": nodes,
            "inventory": inventory,
            "carriers": carriers,
            "orders": orders,
        }
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    carriers = draw(
        st.sampled_from(
            [
                {},
                {"allow": {"NE": ["C0"]}},
                {"deny": {"*": ["C1"]}},
                {"allow": {"*": ["C0", "C2"]}, "deny": {"SE": ["C0"]}},
            ]
        )
    )
    return Policy.model_validate(
        {
            "version": draw(st.sampled_from(["p-1", "default-2026-11", "strict"])),
            "autonomy": draw(st.sampled_from(["auto", "auto", "auto", "recommend", "off"])),
            "approval": {
                "max_cost_increase_per_order": draw(st.sampled_from([0.0, 10.0, 25.0, 1e9])),
                "max_cost_increase_pct_of_order": draw(st.sampled_from([0.0, 0.15, 1.0, 10.0])),
                "max_repromise_days": draw(st.sampled_from([0, 2, 30])),
                "max_orders_per_decision": draw(st.sampled_from([1, 3, 50])),
                "always": draw(st.lists(st.sampled_from(list(ActionType)), max_size=3)),
                "max_cost_increase_per_decision": draw(st.none() | st.just(50.0)),
                "min_on_time_probability": draw(st.none() | st.just(0.9)),
                "tiers": draw(st.lists(st.sampled_from(list(CustomerTier)), max_size=2)),
            },
            "deny": {
                "hazmat_by_air": draw(st.booleans()),
                "b2b_to_marketplace_seller": draw(st.booleans()),
                "max_node_utilization": draw(st.sampled_from([0.5, 1.0, 2.0])),
                "respect_safety_stock": draw(st.booleans()),
                "max_split_nodes": draw(st.integers(1, 3)),
                "closed_nodes": draw(st.booleans()),
                "node_must_serve_channel": draw(st.booleans()),
            },
            "rate_limit": {
                "max_autonomous_actions_per_node_per_hour": draw(st.sampled_from([None, 0, 2, 200]))
            },
            "carriers": carriers,
        }
    )


def _ids(known: list[str]) -> st.SearchStrategy[str]:
    """Mostly known ids, sometimes an unknown one."""
    if not known:
        return st.just(UNKNOWN)
    return st.one_of(st.sampled_from(known), st.sampled_from(known), st.just(UNKNOWN))


@st.composite
def _lines(draw: st.DrawFn, skus: list[str], order_skus: list[str]) -> list[dict[str, Any]]:
    pool = order_skus or skus or [UNKNOWN]
    chosen = draw(st.lists(st.one_of(st.sampled_from(pool), _ids(skus)), max_size=3, unique=True))
    qty = st.one_of(st.integers(1, 12), st.just(10**12))
    return [{"sku": s, "qty": draw(qty)} for s in chosen]


@st.composite
def hostile_actions(draw: st.DrawFn, snapshot: NetworkSnapshot) -> dict[str, Any]:
    """Any action type over any ids, known or not, with any numbers."""
    orders = [o.id for o in snapshot.orders]
    nodes = [n.id for n in snapshot.nodes]
    skus = [s.id for s in snapshot.skus]
    services = [s.id for c in snapshot.carriers for s in c.services]
    kind = draw(st.sampled_from(list(ActionType)))
    order_id = draw(_ids(orders))
    order = next((o for o in snapshot.orders if o.id == order_id), None)
    order_skus = [line.sku for line in order.lines] if order else []
    action: dict[str, Any] = {"type": kind.value, "cost_delta": draw(any_cost)}
    if draw(st.integers(0, 9)) == 0:
        action["orders"] = draw(st.lists(_ids(orders), min_size=1, max_size=4, unique=True))
    elif draw(st.integers(0, 19)) > 0:
        action["order"] = order_id
    if kind is ActionType.SPLIT and draw(st.booleans()):
        action["legs"] = [
            {
                "node": draw(_ids(nodes)),
                "carrier_service": draw(_ids(services)),
                "lines": draw(_lines(skus, order_skus)),
            }
            for _ in range(draw(st.integers(1, 4)))
        ]
    else:
        if draw(st.integers(0, 3)) > 0:
            action["node"] = draw(_ids(nodes))
        if draw(st.integers(0, 3)) > 0:
            action["carrier_service"] = draw(_ids(services))
        action["lines"] = draw(_lines(skus, order_skus))
    if kind is ActionType.TRANSFER_INVENTORY or draw(st.integers(0, 9)) == 0:
        action["from_node"] = draw(st.none() | _ids(nodes))
    if kind in (ActionType.REPROMISE, ActionType.BACKORDER) or draw(st.integers(0, 9)) == 0:
        hours = draw(st.none() | st.integers(-48, 24 * 400))
        if hours is not None:
            action["promised_by"] = (AS_OF + timedelta(hours=hours)).isoformat()
    if kind is ActionType.NOTIFY_CUSTOMER:
        action["message"] = draw(st.text(max_size=40))
    return action


@st.composite
def sane_action(draw: st.DrawFn, snapshot: NetworkSnapshot, order: Order) -> dict[str, Any]:
    """A well-formed action for `order`, as the sourcing tools would propose: known ids, the
    order's own lines and quantities, finite numbers. It may still break the policy."""
    nodes = [n.id for n in snapshot.nodes]
    services = [s.id for c in snapshot.carriers for s in c.services]
    kind = draw(st.sampled_from(list(ActionType)))
    lines = [
        {"sku": line.sku, "qty": draw(st.integers(1, line.qty))}
        for line in order.lines
        if draw(st.integers(0, 3)) > 0
    ] or [{"sku": order.lines[0].sku, "qty": 1}]
    action: dict[str, Any] = {
        "type": kind.value,
        "order": order.id,
        "cost_delta": draw(st.sampled_from([-5.0, 0.0, 3.1, 12.5, 25.0, 31.2, 80.0])),
    }
    if kind is ActionType.SPLIT:
        legs_nodes = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=3, unique=True))
        legs: list[dict[str, Any]] = [
            {"node": n, "carrier_service": draw(st.sampled_from(services)), "lines": []}
            for n in legs_nodes
        ]
        for line in lines:
            legs[draw(st.integers(0, len(legs) - 1))]["lines"].append(line)
        action["legs"] = [leg for leg in legs if leg["lines"]]
    elif kind is ActionType.TRANSFER_INVENTORY:
        destination = order.allocation.node if order.allocation else draw(st.sampled_from(nodes))
        sources = [n for n in nodes if n != destination]
        if not sources:
            return {"type": ActionType.HOLD.value, "order": order.id}
        action["from_node"] = draw(st.sampled_from(sources))
        action["node"] = destination
        action["lines"] = lines
    elif kind in (ActionType.REPROMISE, ActionType.BACKORDER):
        hours = draw(st.none() | st.integers(-24, 24 * 10))
        if hours is not None:
            action["promised_by"] = (order.promised_by + timedelta(hours=hours)).isoformat()
    elif kind is ActionType.CANCEL_LINES:
        action["lines"] = lines
    elif kind is ActionType.NOTIFY_CUSTOMER:
        action["message"] = "Your order has a new date."
    elif kind is not ActionType.HOLD:
        action["node"] = draw(st.sampled_from(nodes))
        action["carrier_service"] = draw(st.sampled_from(services))
        action["lines"] = lines
    return action


@st.composite
def plans(draw: st.DrawFn, snapshot: NetworkSnapshot) -> Candidate:
    """Half well-formed plans (one action per order, over actionable orders), half hostile."""
    nodes = [n.id for n in snapshot.nodes]
    actionable = [o for o in snapshot.orders if o.status in ACTIONABLE_ORDER_STATUSES]
    if actionable and draw(st.integers(0, 3)) > 0:
        chosen = draw(
            st.lists(st.sampled_from(actionable), min_size=1, max_size=4, unique_by=lambda o: o.id)
        )
        raw = [draw(sane_action(snapshot, order)) for order in chosen]
        listed = sorted(o.id for o in chosen)
        by_node = st.just({}) | st.dictionaries(
            st.sampled_from(nodes), st.integers(0, 3), max_size=1
        )
        cost = draw(small_money)
        kind = "well_formed"
    else:
        raw = draw(st.lists(hostile_actions(snapshot), max_size=6))
        touched = sorted(
            {o for a in raw for o in (a.get("orders") or ([a["order"]] if a.get("order") else []))}
        )
        listed = draw(
            st.one_of(
                st.just(touched),
                st.just(touched),
                st.lists(_ids([o.id for o in snapshot.orders]), max_size=3),
            )
        )
        by_node = st.dictionaries(_ids(nodes), st.integers(-5, 500), max_size=3)
        cost = draw(any_cost)
        kind = "hostile"
    return Candidate.model_validate(
        {
            "id": draw(st.sampled_from(["c1", "O0:c2", "batch"])),
            "kind": kind,
            "summary": "random plan",
            "actions": raw,
            "orders": listed,
            "score": {"total": draw(small_money)},
            "cost_delta": cost,
            "on_time_probability": draw(st.none() | st.floats(0.0, 1.0)),
            "units_by_node": draw(by_node),
            "capacity_by_node": draw(by_node),
        }
    )


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[NetworkSnapshot, Policy, Candidate, dict[str, int]]:
    snapshot = draw(snapshots())
    policy = draw(policies())
    plan = draw(plans(snapshot))
    recent = draw(
        st.dictionaries(
            st.sampled_from([n.id for n in snapshot.nodes]), st.integers(0, 300), max_size=3
        )
    )
    return snapshot, policy, plan, recent
