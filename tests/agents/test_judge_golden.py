"""Golden digests of the decide step's judging: any change to the verdicts `evaluate` gives the
generated candidates, or to what `judge` keeps and allows, changes a digest and fails here.

Two workloads: the first events of the bench stream (`evals.bench_workload`), with recent
autonomous actions near the rate limit at some nodes, judged by the default policy or (every
third event) by a strict one that denies and holds much more; and simulator cases of every
family under their own policies. Every candidate generated is evaluated (not only those
`judge` reaches), then judged. A deliberate change of verdicts updates the digests in the
same commit, saying why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from agents.decide import judge
from evals.bench_workload import bench_events, bench_network
from evals.simulator import FAMILIES, generate_cases
from guardrails.evaluator import GuardContext, evaluate
from guardrails.policy import default_policy, override_policy
from tools.decisions import Candidate
from tools.events import EventType
from tools.sourcing.candidates import generate_candidates
from tools.sourcing.situation import apply_event
from tools.view import NetworkView

BENCH_EVENTS = 60
SIM_CASES = 21
DIGESTS = {
    "bench": "17906efbdd10aadf7d2765cc675ec082f7b19e240819dec10aad6cdcbe535852",
    "simulator": "f6f721876ac34dd592456dd489c5153293ae275b58d6b9b30aea8a4227af8e6e",
}

Judged = tuple[list[Candidate], GuardContext]


def bench_inputs() -> Iterator[Judged]:
    policy = default_policy()
    strict = override_policy(
        policy,
        {
            "autonomy": "recommend",
            "approval": {
                "max_repromise_days": 0.5,
                "always": ["split", "transfer_inventory", "cancel_lines"],
                "max_cost_increase_per_decision": 5.0,
                "min_on_time_probability": 0.9,
                "tiers": ["gold"],
            },
            "deny": {"max_split_nodes": 1, "max_node_utilization": 0.9},
            "carriers": {"deny": {"*": ["PARCELCO"]}},
        },
    )
    limits = policy.sourcing_limits()
    snapshot = bench_network(240, 40, 11)
    base = NetworkView.of(snapshot, {}, {})
    nodes = [n.id for n in snapshot.nodes]
    for i, event in enumerate(bench_events(snapshot, BENCH_EVENTS)):
        view, situation = apply_event(base, event)
        orders = list(situation.affected_orders)
        recent = {nodes[(i + k) % len(nodes)]: 190 + 5 * k for k in range(4)}
        judging = strict if i % 3 == 2 else policy
        guard = GuardContext.of(view, judging, recent, scope_orders=orders)
        for order_id in orders:
            yield (
                generate_candidates(view, situation, order_id, policy.priorities, limits),
                guard,
            )


def simulator_inputs() -> Iterator[Judged]:
    policy = default_policy()
    cases, networks = generate_cases(list(FAMILIES), SIM_CASES, 5, cases_per_network=20)
    views = {name: NetworkView.of(snapshot) for name, snapshot in networks.items()}
    for case in cases:
        if case.event.type is EventType.UNSTRUCTURED:
            continue
        used = override_policy(policy, case.policy) if case.policy else policy
        assert case.network_ref is not None
        view, situation = apply_event(views[case.network_ref], case.event)
        orders = list(situation.affected_orders[:3])
        guard = GuardContext.of(view, used, {}, scope_orders=orders[:2])
        for order_id in orders:
            limits = used.sourcing_limits()
            yield (
                generate_candidates(view, situation, order_id, used.priorities, limits),
                guard,
            )


def digest(inputs: Iterator[Judged]) -> str:
    rows = []
    for candidates, guard in inputs:
        every = [[v.model_dump(mode="json") for v in evaluate(c, guard)] for c in candidates]
        judged, allowed = judge(candidates, guard)
        rows.append(
            {
                "every": every,
                "judged": [c.model_dump(mode="json") for c in judged],
                "allowed": [c.id for c in allowed],
            }
        )
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_judging_matches_the_golden_digests() -> None:
    found = {"bench": digest(bench_inputs()), "simulator": digest(simulator_inputs())}
    assert found == DIGESTS
