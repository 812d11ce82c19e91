"""A micro-benchmark of the evaluator on a built-in synthetic network (no files, no I/O).

`evaluations_per_second(n)` is what `execlayer eval bench` reports for the guard step;
`benchmark(n)` gives the detail (per evaluation, per action, per verdict).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from guardrails.context import GuardContext
from guardrails.evaluator import evaluate
from guardrails.policy import default_policy
from tools.decisions import Action, ActionLine, ActionType, Candidate, ScoreBreakdown, SplitLeg
from tools.network import NetworkSnapshot
from tools.view import NetworkView

AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NODES = 20
ORDERS = 200
SKUS = 10


def bench_network() -> NetworkSnapshot:
    """20 nodes (4 of each kind), 10 SKUs (one hazmat), 2 carriers (ground and air), 200 orders."""
    kinds = ["dc", "store", "3pl", "distributor", "marketplace_seller"]
    nodes = [
        {
            "id": f"N{i:02d}",
            "kind": kinds[i % len(kinds)],
            "region": "NE" if i % 2 else "SE",
            "lat": 35.0 + i * 0.3,
            "lon": -80.0 + i * 0.2,
            "status": "open",
            "channels": ["d2c", "marketplace", "b2b"],
            "capacity_units_per_day": 1000 + 100 * i,
            "backlog_units": 50 * i,
            "handling_cost_per_order": 3.0,
            "processing_days": 0.5,
            "cutoff_hour_utc": 20,
            "inventory_accuracy": 0.97,
        }
        for i in range(NODES)
    ]
    skus = [
        {"id": f"S{j}", "weight_kg": 1.0 + j, "hazmat": j == 0, "unit_cost": 10.0 + j}
        for j in range(SKUS)
    ]
    inventory = [
        {"node": f"N{i:02d}", "sku": f"S{j}", "on_hand": 500, "reserved": 20, "safety_stock": 5}
        for i in range(NODES)
        for j in range(SKUS)
    ]
    service = {
        "base_rate": 6.0,
        "rate_per_kg": 0.5,
        "rate_per_100km": 0.8,
        "transit_days_base": 1.0,
        "transit_days_per_1000km": 1.0,
        "max_weight_kg": 70,
    }
    carriers = [
        {
            "id": "GROUNDCO",
            "regions": ["NE", "SE"],
            "on_time_rate": 0.94,
            "services": [{"id": "GROUNDCO-GROUND", "level": "ground", "mode": "ground", **service}],
        },
        {
            "id": "AIRCO",
            "regions": ["NE", "SE"],
            "on_time_rate": 0.96,
            "services": [{"id": "AIRCO-OVERNIGHT", "level": "overnight", "mode": "air", **service}],
        },
    ]
    orders = [
        {
            "id": f"O{k:04d}",
            "channel": ["d2c", "marketplace", "b2b"][k % 3],
            "customer_tier": ["standard", "silver", "gold", "b2b_contract"][k % 4],
            "ship_to": {"lat": 40.0, "lon": -75.0, "region": "NE", "postal_code": "10001"},
            "lines": [{"sku": f"S{1 + k % (SKUS - 1)}", "qty": 1 + k % 3, "unit_price": 80.0}],
            "created_at": (AS_OF - timedelta(days=1)).isoformat(),
            "promised_by": (AS_OF + timedelta(days=4)).isoformat(),
            "allocation": {"node": f"N{k % NODES:02d}", "carrier_service": "GROUNDCO-GROUND"},
            "status": "allocated",
        }
        for k in range(ORDERS)
    ]
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


def _move(k: int, to_node: int) -> Action:
    sku = f"S{1 + k % (SKUS - 1)}"
    return Action(
        type=ActionType.REALLOCATE,
        order=f"O{k:04d}",
        node=f"N{to_node:02d}",
        carrier_service="GROUNDCO-GROUND",
        lines=[ActionLine(sku=sku, qty=1 + k % 3)],
        cost_delta=4.0 + k % 7,
    )


def bench_plans() -> list[Candidate]:
    """A reallocation, a split, a re-promise and a 50-order batch over `bench_network()`."""
    score = ScoreBreakdown(total=1.0)
    split = Action(  # O0002 orders 3 x S3
        type=ActionType.SPLIT,
        order="O0002",
        legs=[
            SplitLeg(
                node="N05", carrier_service="GROUNDCO-GROUND", lines=[ActionLine(sku="S3", qty=1)]
            ),
            SplitLeg(
                node="N06", carrier_service="AIRCO-OVERNIGHT", lines=[ActionLine(sku="S3", qty=2)]
            ),
        ],
        cost_delta=12.0,
    )
    repromise = Action(
        type=ActionType.REPROMISE,
        order="O0007",
        promised_by=AS_OF + timedelta(days=5),
    )
    notify = Action(type=ActionType.NOTIFY_CUSTOMER, order="O0007", message="new date")
    # Never a marketplace seller (every fifth node): a third of the orders are B2B.
    batch = [_move(k, (k + 3) % NODES - ((k + 3) % NODES % 5 == 4)) for k in range(50)]
    return [
        Candidate(
            id="one",
            kind="reallocate",
            summary="",
            actions=[_move(1, 9)],
            orders=["O0001"],
            score=score,
        ),
        Candidate(
            id="split", kind="split", summary="", actions=[split], orders=["O0002"], score=score
        ),
        Candidate(
            id="repromise",
            kind="repromise",
            summary="",
            actions=[repromise, notify],
            orders=["O0007"],
            score=score,
        ),
        Candidate(
            id="batch",
            kind="batch",
            summary="",
            actions=batch,
            orders=[a.order for a in batch if a.order],
            score=score,
        ),
    ]


def benchmark(n: int = 2000) -> dict[str, Any]:
    """Evaluate the bench plans `n` times in turn; figures per evaluation, action and verdict."""
    if n < 1:
        raise ValueError("n must be at least 1")
    context = GuardContext(NetworkView.of(bench_network()), default_policy())
    plans = bench_plans()
    actions = verdicts = 0
    start = time.perf_counter()
    for i in range(n):
        plan = plans[i % len(plans)]
        verdicts += len(evaluate(plan, context))
        actions += len(plan.actions)
    seconds = time.perf_counter() - start
    single = plans[0]
    rounds = max(1, n // 4)
    start_single = time.perf_counter()
    for _ in range(rounds):
        evaluate(single, context)
    single_seconds = time.perf_counter() - start_single
    return {
        "us_per_one_action_plan": single_seconds / rounds * 1e6,
        "evaluations": n,
        "seconds": seconds,
        "evaluations_per_second": n / seconds,
        "actions_per_second": actions / seconds,
        "us_per_evaluation": seconds / n * 1e6,
        "us_per_action": seconds / actions * 1e6,
        "verdicts_per_second": verdicts / seconds,
    }


def evaluations_per_second(n: int = 2000) -> float:
    """Plans evaluated per second on the bench network (a mix of 1- to 50-action plans)."""
    return float(benchmark(n)["evaluations_per_second"])
