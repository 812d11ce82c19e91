"""A synthetic network-wide surge, seeded, and the batch re-sourcing benchmark on it.

`surge_network(orders, nodes, seed)` builds a continental network: DCs, stores, 3PLs and
distributors in five regions, fifty SKUs stocked unevenly, four carriers, and `orders` orders
all allocated to the biggest DC; the event is that DC's outage (a scoped `node_outage`), so
every order needs a new node while nearby nodes have limited room and stock.

`run_batch_benchmark(orders, nodes, seed, time_limit_s)` applies the event, re-plans the batch
and runs the static-rules baseline on it, and returns the figures (seconds, gap to the LP bound,
the baseline's gap, ...). `execlayer eval bench` builds on it.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.events import ExceptionEvent
from tools.network import NetworkSnapshot, utc_iso
from tools.priorities import BusinessPriorities
from tools.sourcing.batch import plan_batch
from tools.sourcing.greedy import greedy_batch
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.situation import apply_event
from tools.view import NetworkView

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Region: (lat min, lat max, lon min, lon max) of the area nodes and customers are spread over.
REGIONS = {
    "NE": (39.0, 44.5, -80.0, -70.0),
    "SE": (26.0, 36.0, -90.0, -77.0),
    "MW": (37.0, 46.0, -97.0, -82.0),
    "SW": (29.0, 37.0, -112.0, -95.0),
    "W": (33.0, 47.5, -123.0, -113.0),
}
OUTAGE_DC = "DC-000"


def _carriers() -> list[dict[str, Any]]:
    regions = list(REGIONS)

    def svc(
        cid: str,
        level: str,
        mode: str,
        base: float,
        kg: float,
        km: float,
        t0: float,
        t1: float,
        max_w: float,
        max_d: float | None,
    ) -> dict[str, Any]:
        return {
            "id": f"{cid}-{level.upper()}",
            "level": level,
            "mode": mode,
            "base_rate": base,
            "rate_per_kg": kg,
            "rate_per_100km": km,
            "transit_days_base": t0,
            "transit_days_per_1000km": t1,
            "max_weight_kg": max_w,
            "max_distance_km": max_d,
        }

    return [
        {
            "id": "PARCELCO",
            "regions": regions,
            "on_time_rate": 0.95,
            "disrupted_regions": [],
            "services": [
                svc("PARCELCO", "ground", "ground", 7.0, 0.6, 0.9, 1.0, 1.2, 68, None),
                svc("PARCELCO", "two_day", "air", 14.0, 1.2, 0.5, 1.5, 0.2, 68, None),
                svc("PARCELCO", "overnight", "air", 24.0, 2.0, 0.6, 0.8, 0.05, 68, None),
            ],
        },
        {
            "id": "SWIFT",
            "regions": regions,
            "on_time_rate": 0.92,
            "disrupted_regions": [],
            "services": [
                svc("SWIFT", "ground", "ground", 6.2, 0.55, 0.85, 1.2, 1.3, 45, None),
                svc("SWIFT", "two_day", "ground", 11.0, 0.9, 0.7, 1.0, 0.6, 45, 1200),
            ],
        },
        {
            "id": "FREIGHTLY",
            "regions": regions,
            "on_time_rate": 0.9,
            "disrupted_regions": [],
            "services": [
                svc("FREIGHTLY", "freight", "ground", 40.0, 0.2, 0.5, 2.0, 1.0, 1000, None)
            ],
        },
        {
            "id": "METRODASH",
            "regions": regions,
            "on_time_rate": 0.88,
            "disrupted_regions": [],
            "services": [svc("METRODASH", "same_day", "ground", 12.0, 0.8, 4.0, 0.2, 2.0, 20, 80)],
        },
    ]


def surge_network(
    orders: int = 10_000, nodes: int = 200, seed: int = 7
) -> tuple[NetworkSnapshot, ExceptionEvent]:
    """A seeded network of `nodes` nodes whose biggest DC, holding `orders` orders, fails."""
    if orders < 1 or nodes < 2:
        raise ValueError("a surge needs at least 1 order and 2 nodes")
    rng = random.Random(seed)
    region_names = list(REGIONS)
    skus: list[dict[str, Any]] = [
        {
            "id": f"SKU-{i:03d}",
            "weight_kg": round(rng.uniform(0.2, 8.0), 2),
            "hazmat": i % 17 == 0,
            "unit_cost": round(rng.uniform(3, 120), 2),
        }
        for i in range(50)
    ]
    popularity = [1.0 / (1 + i) ** 0.7 for i in range(len(skus))]
    node_rows: list[dict[str, Any]] = []
    inventory: list[dict[str, Any]] = []
    demand_units = orders * 2.2
    for i in range(nodes):
        region = region_names[i % len(region_names)]
        la0, la1, lo0, lo1 = REGIONS[region]
        if i == 0:
            kind, cap, backlog_share = "dc", 40_000, 0.3
        elif i % 10 == 1:
            kind, cap, backlog_share = "dc", rng.randint(6_000, 12_000), rng.uniform(0.8, 0.95)
        elif i % 10 == 2:
            kind, cap, backlog_share = "3pl", rng.randint(2_000, 5_000), rng.uniform(0.7, 0.9)
        elif i % 10 == 3:
            kind, cap, backlog_share = (
                "distributor",
                rng.randint(1_000, 3_000),
                rng.uniform(0.6, 0.9),
            )
        else:
            kind, cap, backlog_share = "store", rng.randint(250, 700), rng.uniform(0.3, 0.8)
        node_id = OUTAGE_DC if i == 0 else f"{kind.upper()}-{i:03d}"
        node_rows.append(
            {
                "id": node_id,
                "kind": kind,
                "region": region,
                "lat": round(rng.uniform(la0, la1), 4),
                "lon": round(rng.uniform(lo0, lo1), 4),
                "status": "open",
                "channels": ["d2c", "marketplace", "b2b"]
                if kind != "store"
                else ["d2c", "marketplace"],
                "capacity_units_per_day": cap,
                "backlog_units": int(cap * backlog_share),
                "handling_cost_per_order": {"dc": 2.5, "3pl": 3.0, "distributor": 3.5}.get(
                    kind, 4.0
                ),
                "processing_days": 1.0 if kind != "store" else 0.5,
                "cutoff_hour_utc": 22 if kind == "dc" else 20,
                "inventory_accuracy": round(
                    rng.uniform(0.985, 0.998) if kind != "store" else rng.uniform(0.88, 0.97), 3
                ),
            }
        )
        share = 0.25 if kind == "store" else 0.9
        scale = demand_units / nodes * (0.6 if kind == "store" else 4.0)
        for s, sku in enumerate(skus):
            if i != 0 and rng.random() > share:
                continue
            on_hand = int(rng.uniform(0.2, 1.6) * scale * popularity[s] / sum(popularity) * 12)
            if on_hand <= 0:
                continue
            inventory.append(
                {
                    "node": node_id,
                    "sku": sku["id"],
                    "on_hand": on_hand,
                    "reserved": int(on_hand * rng.uniform(0.0, 0.2)),
                    "safety_stock": max(0, int(on_hand * 0.05)),
                }
            )
    tiers = ["standard"] * 6 + ["silver"] * 2 + ["gold"]
    order_rows: list[dict[str, Any]] = []
    for k in range(orders):
        region = rng.choice(region_names)
        la0, la1, lo0, lo1 = REGIONS[region]
        n_lines = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        picked = rng.choices(range(len(skus)), weights=popularity, k=n_lines)
        lines = [
            {
                "sku": skus[s]["id"],
                "qty": rng.choice([1, 1, 1, 2]),
                "unit_price": round(float(skus[s]["unit_cost"]) * rng.uniform(1.6, 3.0), 2),
            }
            for s in dict.fromkeys(picked)
        ]
        channel = rng.choices(["d2c", "marketplace", "b2b"], weights=[7, 2, 1])[0]
        order_rows.append(
            {
                "id": f"S-{k:05d}",
                "channel": channel,
                "customer_tier": "b2b_contract" if channel == "b2b" else rng.choice(tiers),
                "ship_to": {
                    "lat": round(rng.uniform(la0, la1), 4),
                    "lon": round(rng.uniform(lo0, lo1), 4),
                    "region": region,
                    "postal_code": "",
                },
                "lines": lines,
                "created_at": utc_iso(AS_OF - timedelta(hours=rng.randint(1, 30))),
                "promised_by": utc_iso(
                    AS_OF + timedelta(days=rng.randint(3, 6), hours=14, minutes=59)
                ),
                "allocation": {"node": OUTAGE_DC, "carrier_service": "PARCELCO-GROUND"},
                "status": "allocated",
            }
        )
    snapshot = NetworkSnapshot.model_validate(
        {
            "as_of": utc_iso(AS_OF),
            "skus": skus,
            "nodes": node_rows,
            "inventory": inventory,
            "carriers": _carriers(),
            "orders": order_rows,
        }
    )
    event = ExceptionEvent(
        id=f"EX-SURGE-{seed}",
        type="node_outage",
        occurred_at=AS_OF + timedelta(minutes=5),
        source="monitor",
        node=OUTAGE_DC,
    )
    return snapshot, event


def run_batch_benchmark(
    orders: int = 10_000, nodes: int = 200, seed: int = 7, time_limit_s: float = 5.0
) -> dict[str, Any]:
    """Re-plan a synthetic surge and run the static-rules baseline on it; the figures."""
    snapshot, event = surge_network(orders, nodes, seed)
    priorities, limits = BusinessPriorities(), SourcingLimits()
    t0 = time.perf_counter()
    view, situation = apply_event(NetworkView.of(snapshot), event)
    plan = plan_batch(view, situation, priorities, limits, time_limit_s=time_limit_s)
    seconds = time.perf_counter() - t0
    greedy = greedy_batch(view, situation, priorities, limits)
    bound = plan.lower_bound
    greedy_gap = 100.0 * (greedy.total_expected_cost - bound) / abs(bound) if bound else None
    return {
        "orders": orders,
        "nodes": nodes,
        "seed": seed,
        "seconds": round(seconds, 3),
        "plan_seconds": plan.seconds,
        "method": plan.method,
        "time_limited": plan.time_limited,
        "feasible": plan.feasible,
        "uncovered": len(plan.uncovered),  # backordered (by choice or for want of room)
        "cannot_cover": len(plan.cannot_cover),
        "options": plan.options,
        "resources": plan.resources,
        "objective": plan.total_expected_cost_after,
        "lower_bound": bound,
        "gap_pct": plan.gap_pct,
        "greedy_objective": greedy.total_expected_cost,
        "greedy_gap_pct": None if greedy_gap is None else round(greedy_gap, 4),
        "greedy_capacity_violations": len(greedy.capacity_violations),
        "greedy_uncovered": len(greedy.uncovered),
        "greedy_seconds": greedy.seconds,
    }


def main(argv: list[str] | None = None) -> None:
    """`python -m tools.sourcing.synthetic [--orders N] [--nodes N] [--seed S] [--time-limit S]`:
    print the benchmark's figures as one JSON object."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Batch re-sourcing benchmark on a synthetic surge")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=5.0)
    args = parser.parse_args(argv)
    print(json.dumps(run_batch_benchmark(args.orders, args.nodes, args.seed, args.time_limit)))


if __name__ == "__main__":
    main()
