"""Test data builders: events, and small random networks for property tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.events import ExceptionEvent
from tools.network import NetworkSnapshot, utc_iso

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def make_event(**fields: Any) -> ExceptionEvent:
    base: dict[str, Any] = {
        "id": "EX-T",
        "type": "sla_risk",
        "occurred_at": "2026-11-24T09:05:00Z",
        "source": "wms",
    }
    base.update(fields)
    return ExceptionEvent.model_validate(base)


CARRIERS: list[dict[str, Any]] = [
    {
        "id": "PARCELCO",
        "regions": ["NE", "MW"],
        "on_time_rate": 0.95,
        "disrupted_regions": [],
        "services": [
            {
                "id": "P-GROUND",
                "level": "ground",
                "mode": "ground",
                "base_rate": 7.0,
                "rate_per_kg": 0.6,
                "rate_per_100km": 0.9,
                "transit_days_base": 1.0,
                "transit_days_per_1000km": 1.2,
                "max_weight_kg": 68,
                "max_distance_km": None,
            },
            {
                "id": "P-AIR",
                "level": "two_day",
                "mode": "air",
                "base_rate": 14.0,
                "rate_per_kg": 1.2,
                "rate_per_100km": 0.5,
                "transit_days_base": 1.5,
                "transit_days_per_1000km": 0.2,
                "max_weight_kg": 68,
                "max_distance_km": None,
            },
        ],
    },
    {
        "id": "SWIFT",
        "regions": ["NE", "MW"],
        "on_time_rate": 0.9,
        "disrupted_regions": [],
        "services": [
            {
                "id": "S-GROUND",
                "level": "ground",
                "mode": "ground",
                "base_rate": 6.0,
                "rate_per_kg": 0.5,
                "rate_per_100km": 1.0,
                "transit_days_base": 1.2,
                "transit_days_per_1000km": 1.3,
                "max_weight_kg": 30,
                "max_distance_km": None,
            },
        ],
    },
]


def random_network(
    seed: int,
    *,
    nodes: int = 5,
    skus: int = 3,
    orders: int = 12,
    stock_scale: float = 1.0,
    room_scale: float = 1.0,
    lines_max: int = 2,
) -> NetworkSnapshot:
    """A small random network: `orders` orders all allocated to node N0 (which an outage can
    then close), stock and room scaled to make the batch tight or infeasible."""
    rng = random.Random(seed)
    sku_rows = [
        {
            "id": f"K{i}",
            "weight_kg": round(rng.uniform(0.5, 6.0), 2),
            "hazmat": i == 2,
            "unit_cost": round(rng.uniform(5, 50), 2),
        }
        for i in range(skus)
    ]
    node_rows = []
    inventory = []
    for n in range(nodes):
        cap = rng.randint(20, 60)
        node_rows.append(
            {
                "id": f"N{n}",
                "kind": rng.choice(["dc", "store", "3pl", "marketplace_seller"]),
                "region": rng.choice(["NE", "MW"]),
                "lat": round(rng.uniform(39.0, 44.0), 3),
                "lon": round(rng.uniform(-88.0, -71.0), 3),
                "status": "open",
                "channels": ["d2c", "marketplace", "b2b"],
                "capacity_units_per_day": cap,
                "backlog_units": max(0, int(cap * rng.uniform(0.2, 1.0) * (2 - room_scale))),
                "handling_cost_per_order": round(rng.uniform(1, 5), 2),
                "processing_days": rng.choice([0.5, 1.0]),
                "cutoff_hour_utc": rng.choice([18, 20, 22]),
                "inventory_accuracy": round(rng.uniform(0.85, 0.999), 3),
            }
        )
        for k in range(skus):
            if rng.random() < 0.7:
                on_hand = int(rng.randint(0, 12) * stock_scale)
                inventory.append(
                    {
                        "node": f"N{n}",
                        "sku": f"K{k}",
                        "on_hand": on_hand,
                        "reserved": min(on_hand, rng.randint(0, 2)),
                        "safety_stock": rng.randint(0, 1),
                    }
                )
    order_rows = []
    for o in range(orders):
        n_lines = rng.randint(1, lines_max)
        picked = rng.sample(range(skus), min(n_lines, skus))
        channel = rng.choice(["d2c", "d2c", "marketplace", "b2b"])
        order_rows.append(
            {
                "id": f"O{o}",
                "channel": channel,
                "customer_tier": "b2b_contract"
                if channel == "b2b"
                else rng.choice(["standard", "silver", "gold"]),
                "ship_to": {
                    "lat": round(rng.uniform(39.0, 44.0), 3),
                    "lon": round(rng.uniform(-88.0, -71.0), 3),
                    "region": rng.choice(["NE", "MW"]),
                    "postal_code": "",
                },
                "lines": [
                    {
                        "sku": f"K{k}",
                        "qty": rng.randint(1, 3),
                        "unit_price": round(rng.uniform(20, 120), 2),
                    }
                    for k in picked
                ],
                "created_at": utc_iso(AS_OF - timedelta(hours=5)),
                "promised_by": utc_iso(AS_OF + timedelta(days=rng.randint(2, 5), hours=14)),
                "allocation": {"node": "N0", "carrier_service": "P-GROUND"},
                "status": "allocated",
            }
        )
    return NetworkSnapshot.model_validate(
        {
            "as_of": utc_iso(AS_OF),
            "skus": sku_rows,
            "nodes": node_rows,
            "inventory": inventory,
            "carriers": CARRIERS,
            "orders": order_rows,
        }
    )
