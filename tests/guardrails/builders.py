"""A tiny network whose every number is chosen, so threshold tests can sit exactly on a limit.

Nodes: A (dc, cap 100/day, backlog 50), B (store, cap 100, backlog 0, d2c+marketplace only),
D (3pl), M (marketplace seller, serves b2b too), C (closed dc), G (degraded dc).
SKUs: TENT (plain), FUEL (hazmat), LAMP (plain). Carriers: GROUNDCO (G-GROUND, ground) and
AIRCO (A-AIR, air), both serving NE and SE. Orders (all allocated at B by G-GROUND unless said):
O-1 d2c standard 1 TENT @ 200; O-2/O-3/O-4 like O-1; O-BIG d2c 60 TENT @ 10;
O-FUEL d2c 2 FUEL @ 20; O-B2B b2b b2b_contract 3 TENT @ 100; O-K2B d2c b2b_contract 1 TENT;
O-GOLD d2c gold 1 TENT @ 200; O-MULTI d2c standard 2 TENT + 2 LAMP + 2 FUEL @ 50;
O-SHIPPED (shipped); O-FREE (d2c, unallocated, open).
Stock at A: TENT on_hand 20, reserved 5, safety 5 (15 free, 10 above safety);
TENT 200 elsewhere (B, D, M, C, G), LAMP and FUEL 100 everywhere (safety 1).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from guardrails.context import GuardContext
from guardrails.evaluator import evaluate
from guardrails.policy import Policy, default_policy, override_policy
from tools.decisions import Action, Candidate, ScoreBreakdown, SplitLeg, Verdict
from tools.network import NetworkSnapshot
from tools.view import NetworkView

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PROMISED = AS_OF + timedelta(days=3)


def _node(node_id: str, kind: str, **kw: Any) -> dict[str, Any]:
    base = {
        "id": node_id,
        "kind": kind,
        "region": "NE",
        "lat": 40.7,
        "lon": -74.0,
        "status": "open",
        "channels": ["d2c", "marketplace", "b2b"],
        "capacity_units_per_day": 100,
        "backlog_units": 0,
        "handling_cost_per_order": 3.0,
        "processing_days": 0.5,
        "cutoff_hour_utc": 20,
        "inventory_accuracy": 0.98,
    }
    base.update(kw)
    return base


def _service(service_id: str, mode: str, level: str) -> dict[str, Any]:
    return {
        "id": service_id,
        "level": level,
        "mode": mode,
        "base_rate": 6.0,
        "rate_per_kg": 0.5,
        "rate_per_100km": 0.8,
        "transit_days_base": 1.0,
        "transit_days_per_1000km": 1.0,
        "max_weight_kg": 1000,
    }


def _order(order_id: str, lines: list[tuple[str, int, float]], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": order_id,
        "channel": "d2c",
        "customer_tier": "standard",
        "ship_to": {"lat": 40.7, "lon": -74.0, "region": "NE", "postal_code": "10001"},
        "lines": [{"sku": s, "qty": q, "unit_price": p} for s, q, p in lines],
        "created_at": (AS_OF - timedelta(days=1)).isoformat(),
        "promised_by": PROMISED.isoformat(),
        "allocation": {"node": "B", "carrier_service": "G-GROUND"},
        "status": "allocated",
    }
    base.update(kw)
    return base


def network_data() -> dict[str, Any]:
    nodes = [
        _node("A", "dc", backlog_units=50),
        _node("B", "store", channels=["d2c", "marketplace"]),
        _node("D", "3pl", capacity_units_per_day=1000),
        _node("M", "marketplace_seller", capacity_units_per_day=1000),
        _node("C", "dc", status="closed", capacity_units_per_day=1000),
        _node("G", "dc", status="degraded", capacity_units_per_day=1000),
    ]
    inventory = [{"node": "A", "sku": "TENT", "on_hand": 20, "reserved": 5, "safety_stock": 5}]
    inventory += [
        {"node": n, "sku": "TENT", "on_hand": 200, "reserved": 0, "safety_stock": 1}
        for n in ("B", "D", "M", "C", "G")
    ]
    inventory += [
        {"node": n, "sku": s, "on_hand": 100, "reserved": 0, "safety_stock": 1}
        for n in ("A", "B", "D", "M", "C", "G")
        for s in ("LAMP", "FUEL")
    ]
    orders = [
        _order("O-1", [("TENT", 1, 200.0)]),
        _order("O-2", [("TENT", 1, 200.0)]),
        _order("O-3", [("TENT", 1, 200.0)]),
        _order("O-4", [("TENT", 1, 200.0)]),
        _order("O-BIG", [("TENT", 60, 10.0)]),
        _order("O-FUEL", [("FUEL", 2, 20.0)]),
        _order("O-B2B", [("TENT", 3, 100.0)], channel="b2b", customer_tier="b2b_contract"),
        _order("O-K2B", [("TENT", 1, 100.0)], customer_tier="b2b_contract"),
        _order("O-GOLD", [("TENT", 1, 200.0)], customer_tier="gold"),
        _order("O-MULTI", [("TENT", 2, 50.0), ("LAMP", 2, 50.0), ("FUEL", 2, 50.0)]),
        _order("O-SHIPPED", [("TENT", 1, 200.0)], status="shipped"),
        _order("O-FREE", [("TENT", 1, 200.0)], allocation=None, status="open"),
    ]
    return {
        "as_of": AS_OF.isoformat(),
        "skus": [
            {"id": "TENT", "weight_kg": 4.0, "hazmat": False, "unit_cost": 60.0},
            {"id": "FUEL", "weight_kg": 0.5, "hazmat": True, "unit_cost": 3.0},
            {"id": "LAMP", "weight_kg": 0.8, "hazmat": False, "unit_cost": 12.0},
        ],
        "nodes": nodes,
        "inventory": inventory,
        "carriers": [
            {
                "id": "GROUNDCO",
                "regions": ["NE", "SE"],
                "on_time_rate": 0.95,
                "services": [_service("G-GROUND", "ground", "ground")],
            },
            {
                "id": "AIRCO",
                "regions": ["NE", "SE"],
                "on_time_rate": 0.97,
                "services": [_service("A-AIR", "air", "two_day")],
            },
        ],
        "orders": orders,
    }


def view(mutate: Callable[[dict[str, Any]], None] | None = None) -> NetworkView:
    data = copy.deepcopy(network_data())
    if mutate is not None:
        mutate(data)
    return NetworkView.of(NetworkSnapshot.model_validate(data))


def policy(**overrides: Any) -> Policy:
    """The default policy with nested overrides, e.g. policy(approval={"always": []})."""
    return override_policy(default_policy(), overrides) if overrides else default_policy()


def plan(*actions: Action, orders: list[str] | None = None, **kw: Any) -> Candidate:
    touched = sorted({o for a in actions for o in a.touched_orders()})
    return Candidate(
        id=kw.pop("id", "c1"),
        kind=kw.pop("kind", "test"),
        summary=kw.pop("summary", "test plan"),
        actions=list(actions),
        orders=touched if orders is None else orders,
        score=ScoreBreakdown(total=0.0),
        **kw,
    )


def move(order: str, node: str, service: str = "G-GROUND", **kw: Any) -> Action:
    lines = kw.pop("lines", None)
    return Action(
        type=kw.pop("type", "reallocate"),
        order=order,
        node=node,
        carrier_service=service,
        lines=[{"sku": s, "qty": q} for s, q in lines] if lines else [],
        **kw,
    )


def leg(node: str, service: str, lines: list[tuple[str, int]]) -> SplitLeg:
    return SplitLeg.model_validate(
        {
            "node": node,
            "carrier_service": service,
            "lines": [{"sku": s, "qty": q} for s, q in lines],
        }
    )


def judge(
    candidate: Candidate,
    *,
    pol: Policy | None = None,
    net: NetworkView | None = None,
    recent: Mapping[str, int] | None = None,
    scope: frozenset[str] | None = None,
) -> list[Verdict]:
    ctx = GuardContext(net or view(), pol or default_policy(), dict(recent or {}), scope)
    return evaluate(candidate, ctx)


def of_rule(verdicts: list[Verdict], rule: str) -> list[Verdict]:
    return [v for v in verdicts if v.rule == rule]


def outcome_of(verdicts: list[Verdict], rule: str) -> str:
    """The strictest outcome among one rule's verdicts ('' when the rule gave none)."""
    found = of_rule(verdicts, rule)
    if not found:
        return ""
    return max(found, key=lambda v: v.outcome.strictness).outcome.value
