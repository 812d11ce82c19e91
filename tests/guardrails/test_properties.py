"""Invariants over random networks, policies and (often hostile) plans.

(a) no plan with a deny verdict is ever executable, and what the policy forbids is denied;
(b) re-evaluation gives identical verdicts (also against a rebuilt view and a copied plan);
(c) the strictest outcome is the max of the verdicts;
(d) evaluate never raises, and never needs its fail-closed net.
"""

from __future__ import annotations

import json
from collections import defaultdict

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from guardrails.evaluator import (
    GuardContext,
    denied,
    evaluate,
    is_executable,
    may_execute_autonomously,
    needs_approval,
    strictest,
)
from guardrails.explain import explain, reasons_needing_attention
from guardrails.policy import policy_fingerprint, policy_from_data
from guardrails.policy_schema import Autonomy, Policy
from tests.strategies import policies, scenarios
from tools.decisions import ActionType, Candidate, Outcome
from tools.network import Channel, CustomerTier, NetworkSnapshot, NodeKind, NodeStatus
from tools.view import NetworkView

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Scenario = tuple[NetworkSnapshot, Policy, Candidate, dict[str, int]]


def judge(scenario: Scenario) -> tuple[NetworkView, list]:
    snapshot, policy, plan, recent = scenario
    view = NetworkView.of(snapshot)
    return view, evaluate(plan, GuardContext(view, policy, recent))


def check_never_raises_and_deterministic(scenario: Scenario, verdicts: list) -> None:
    """(d) and (b)."""
    snapshot, policy, plan, recent = scenario
    assert verdicts, "every plan gets verdicts"
    assert not any(v.rule == "evaluation_error" for v in verdicts), verdicts[0].reason
    assert all(v.reason and v.candidate == plan.id for v in verdicts)
    # (b) the same inputs, rebuilt from scratch, give the very same verdicts in the same order.
    again = evaluate(
        Candidate.model_validate(plan.model_dump()),
        GuardContext(NetworkView.of(snapshot.model_copy(deep=True)), policy, dict(recent)),
    )
    assert [v.model_dump() for v in again] == [v.model_dump() for v in verdicts]
    # Verdicts always serialise to strict JSON (no NaN or infinity leaks out).
    json.dumps([v.model_dump(mode="json") for v in verdicts], allow_nan=False)


def check_denied_never_executable_and_strictest_is_max(verdicts: list) -> None:
    """(a) and (c)."""
    worst = max(v.outcome.strictness for v in verdicts)
    assert strictest(verdicts).strictness == worst  # (c)
    if denied(verdicts):  # (a)
        assert not is_executable(verdicts)
        assert not needs_approval(verdicts)
        assert not may_execute_autonomously(verdicts)
    else:
        assert is_executable(verdicts)
    assert (strictest(verdicts) is Outcome.ALLOW) == (reasons_needing_attention(verdicts) == [])
    for audience in ("slack", "console", "plain"):
        assert explain(verdicts, audience=audience)  # type: ignore[arg-type]


def _free(snapshot: NetworkSnapshot) -> dict[tuple[str, str], tuple[int, int]]:
    return {(p.node, p.sku): (p.on_hand - p.reserved, p.safety_stock) for p in snapshot.inventory}


def check_what_the_policy_forbids_is_denied(scenario: Scenario, verdicts: list) -> None:
    """Independent checks, written from the policy's words rather than the evaluator's code."""
    snapshot, policy, plan, _ = scenario
    nodes = {n.id: n for n in snapshot.nodes}
    services = {s.id: s for c in snapshot.carriers for s in c.services}
    skus = {s.id: s for s in snapshot.skus}
    orders = {o.id: o for o in snapshot.orders}
    touched = {o for a in plan.actions for o in a.touched_orders()}
    must_deny: list[str] = []
    if policy.autonomy is Autonomy.OFF:
        must_deny.append("autonomy off")
    if not plan.actions:
        must_deny.append("no actions")
    if any(o not in orders for o in touched):
        must_deny.append("unknown order")
    if not touched <= set(plan.orders):
        must_deny.append("order outside the plan")
    for a in plan.actions:
        named = [n for n in (a.node, a.from_node) if n] + [leg.node for leg in a.legs or []]
        if any(n not in nodes for n in named):
            must_deny.append("unknown node")
        if any(s not in services for s in a.carrier_services()):
            must_deny.append("unknown service")
        order = orders.get(a.order or "")
        if order is None or a.orders:
            continue
        if a.type is ActionType.REALLOCATE and a.node in nodes and not a.legs:
            node = nodes[a.node]
            if policy.deny.closed_nodes and node.status is NodeStatus.CLOSED:
                must_deny.append("closed node")
            b2b = order.channel is Channel.B2B or order.customer_tier is CustomerTier.B2B_CONTRACT
            if (
                policy.deny.b2b_to_marketplace_seller
                and b2b
                and (node.kind is NodeKind.MARKETPLACE_SELLER)
            ):
                must_deny.append("b2b to marketplace seller")
            service = services.get(a.carrier_service or "")
            ordered = {line.sku for line in order.lines}
            line_skus = [ln.sku for ln in a.lines] or list(ordered)
            if (
                policy.deny.hazmat_by_air
                and service is not None
                and service.mode.value == "air"
                and any(s in skus and skus[s].hazmat for s in line_skus)
            ):
                must_deny.append("hazmat by air")
    if must_deny:
        assert denied(verdicts), must_deny


def check_executable_never_oversells_or_over_splits(scenario: Scenario, verdicts: list) -> None:
    snapshot, policy, plan, _ = scenario
    if denied(verdicts):
        return
    orders = {o.id: o for o in snapshot.orders}
    free = _free(snapshot)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for a in plan.actions:
        order = orders[a.order] if a.order else None
        current = order.allocation.node if order and order.allocation else None
        if a.type is ActionType.SPLIT and a.legs:
            assert len({leg.node for leg in a.legs}) <= policy.deny.max_split_nodes
            for leg in a.legs:
                if leg.node != current:
                    for ln in leg.lines:
                        taken[(leg.node, ln.sku)] += ln.qty
        elif a.type is ActionType.REALLOCATE and a.node and a.node != current:
            for ln in a.lines:
                taken[(a.node, ln.sku)] += ln.qty
        elif a.type is ActionType.TRANSFER_INVENTORY and a.from_node:
            for ln in a.lines:
                taken[(a.from_node, ln.sku)] += ln.qty
    for key, qty in taken.items():
        available, safety = free.get(key, (0, 0))
        assert qty <= available, (key, qty, available)
        if policy.deny.respect_safety_stock:
            assert available - qty >= safety, (key, qty, available, safety)


@PROPERTY
@given(scenarios())
def test_guardrail_invariants_on_random_networks_and_plans(scenario: Scenario) -> None:
    """Every invariant on each random (network, policy, plan): generation dominates the cost,
    so one scenario is checked against all of them."""
    _, verdicts = judge(scenario)
    check_never_raises_and_deterministic(scenario, verdicts)
    check_denied_never_executable_and_strictest_is_max(verdicts)
    check_what_the_policy_forbids_is_denied(scenario, verdicts)
    check_executable_never_oversells_or_over_splits(scenario, verdicts)
    event(f"{scenario[2].kind}: {strictest(verdicts).value}")


@PROPERTY
@given(policies())
def test_policy_fingerprint_survives_a_round_trip(policy: Policy) -> None:
    again = policy_from_data(json.loads(policy.model_dump_json()))
    assert again == policy
    assert policy_fingerprint(again) == policy_fingerprint(policy)


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.permutations(range(6)))
def test_verdicts_do_not_depend_on_dict_order_of_recent_actions(scenario: Scenario, order) -> None:
    snapshot, policy, plan, recent = scenario
    items = list(recent.items())
    shuffled = dict(items[i] for i in order if i < len(items))
    view = NetworkView.of(snapshot)
    one = evaluate(plan, GuardContext(view, policy, recent))
    two = evaluate(plan, GuardContext(view, policy, shuffled))
    assert [v.model_dump() for v in one] == [v.model_dump() for v in two]
