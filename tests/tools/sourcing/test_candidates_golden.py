"""Golden digests of candidate generation: any change to what `generate_candidates` returns
(kinds, order, ids, scores, notes, summaries, actions) changes a digest and fails here.

Three workloads, together covering every candidate kind: the first events of the bench
stream (`evals.bench_workload`) under the default policy, simulator cases of every family,
and small random networks with tight stock under several limits (splits, transfers,
backorders, cancels). A deliberate change of output updates the digests in the same commit,
saying why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from evals.bench_workload import bench_events, bench_network
from evals.simulator import FAMILIES, generate_cases
from guardrails.policy import default_policy, override_policy
from tests.tools.sourcing.builders import make_event, random_network
from tools.events import EventType
from tools.priorities import BusinessPriorities
from tools.sourcing.candidates import generate_candidates
from tools.sourcing.limits import SourcingLimits
from tools.sourcing.situation import Situation, apply_event
from tools.view import NetworkView

Input = tuple[NetworkView, Situation, str, BusinessPriorities, SourcingLimits]

BENCH_EVENTS = 60
SIM_CASES = 21
RANDOM_SEEDS = 12
RANDOM_TYPES = (
    "stockout",
    "short_pick",
    "node_overload",
    "node_outage",
    "partner_rejected",
    "carrier_disruption",
    "cutoff_missed",
    "sla_risk",
    "booking_failed",
)
DIGESTS = {
    "bench": "9e43d74a9bdeac089adff3bd81c1222bf069046e5ad4e2790aa32621422b668c",
    "simulator": "d84798fc0b3aacc388ee91cd4d28c47b8f140c4c3af7ca2d71a4e4a470c72ab1",
    "random": "49d9ef7f1dd593a259cf842d99d41a75db8d19fa4e8accb2116f7ce71a57d198",
}


def bench_inputs() -> Iterator[Input]:
    policy = default_policy()
    priorities, limits = policy.priorities, policy.sourcing_limits()
    snapshot = bench_network(240, 40, 11)
    base = NetworkView.of(snapshot, {}, {})
    for event in bench_events(snapshot, BENCH_EVENTS):
        view, situation = apply_event(base, event)
        for order_id in situation.affected_orders:
            yield view, situation, order_id, priorities, limits


def simulator_inputs() -> Iterator[Input]:
    policy = default_policy()
    cases, networks = generate_cases(list(FAMILIES), SIM_CASES, 5, cases_per_network=20)
    views = {name: NetworkView.of(snapshot) for name, snapshot in networks.items()}
    for case in cases:
        if case.event.type is EventType.UNSTRUCTURED:
            continue  # perception's job, not sourcing's
        used = override_policy(policy, case.policy) if case.policy else policy
        assert case.network_ref is not None
        view, situation = apply_event(views[case.network_ref], case.event)
        for order_id in situation.affected_orders[:3]:
            yield view, situation, order_id, used.priorities, used.sourcing_limits()


def random_inputs() -> Iterator[Input]:
    priorities = BusinessPriorities()
    limits = (
        SourcingLimits(),
        SourcingLimits(max_split_nodes=3),
        SourcingLimits(max_split_nodes=1, max_repromise_days=1.0),
    )
    for seed in range(RANDOM_SEEDS):
        snapshot = random_network(
            seed, nodes=6, skus=4, orders=8, stock_scale=0.4 + 0.15 * (seed % 5), lines_max=3
        )
        base = NetworkView.of(snapshot)
        for i, order in enumerate(snapshot.orders):
            kind = RANDOM_TYPES[(seed + i) % len(RANDOM_TYPES)]
            fields: dict[str, object] = {"type": kind, "orders": [order.id], "id": f"EX-{seed}-{i}"}
            if kind in ("stockout", "short_pick"):
                fields.update(sku=order.lines[0].sku, node="N0")
            elif kind in ("node_overload", "node_outage", "partner_rejected", "cutoff_missed"):
                fields["node"] = "N0"
            if kind == "node_overload":
                fields["details"] = {"backlog_units": 200}
            if kind == "stockout" and i % 2:
                fields["details"] = {"restock_days": 3}
            view, situation = apply_event(base, make_event(**fields))
            yield view, situation, order.id, priorities, limits[(seed + i) % len(limits)]


def digest(inputs: Iterator[Input]) -> tuple[str, set[str]]:
    rows = []
    kinds: set[str] = set()
    for view, situation, order_id, priorities, limits in inputs:
        cands = generate_candidates(view, situation, order_id, priorities, limits)
        kinds.update(c.kind for c in cands)
        rows.append([c.model_dump(mode="json") for c in cands])
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest(), kinds


def test_candidates_match_the_golden_digests() -> None:
    found = {}
    kinds: set[str] = set()
    for name, inputs in (
        ("bench", bench_inputs()),
        ("simulator", simulator_inputs()),
        ("random", random_inputs()),
    ):
        found[name], seen = digest(inputs)
        kinds |= seen
    assert kinds == {
        "keep",
        "reallocate",
        "upgrade_service",
        "rebook",
        "split",
        "transfer_inventory",
        "repromise",
        "backorder",
        "cancel_lines",
    }
    assert found == DIGESTS
