"""The decision policies a replay compares: agent, static, escalate, oracle.

Each turns a staged case (`Staged`: records, the event applied to them, the affected orders)
into a `Decided`: the contract `Decision`, the plan that executes (for the guardrail re-check)
and, per affected order, its `Fulfilment` (evals/outcomes.py).

- `agent`: the real resolver (agents/resolver.py) on a fresh store per case, embedded default
  (no LLM unless `EXECLAYER_LLM_*` is set; no precedent memory: every case starts clean).
- `static`: the rule engine of old: orders whose allocation broke go to the nearest node with
  stock by the cheapest legal service (tools/sourcing/greedy.py); everything else is left
  alone; free text cannot be read, so it goes to a person.
- `escalate`: every exception to a person.
- `oracle`: the agent's own deterministic decision logic (candidates or the batch plan,
  guardrails, the expected-cost choice) run on the network corrected by the truth: real
  pickable stock, real capacity, real lane reliability, partners that would reject new work
  closed to it. Its regret is what not knowing the truth costs the agent.

What a person does when asked (an escalated case, or a plan pending approval) is modelled in
`person_fulfilments`: after a triage delay they apply the static playbook; an approver
approves the pending plan after a delay.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from evals.cases import ReplayCase, Truth
from evals.outcomes import (
    APPROVAL_HOURS,
    MANUAL_COST_APPROVAL,
    MANUAL_COST_ESCALATED,
    TRIAGE_HOURS,
    Fulfilment,
    _uniforms,
    fulfilments,
    keep_plan,
)
from guardrails.evaluator import GuardContext, evaluate, needs_approval
from guardrails.policy import Policy, default_policy, override_policy
from tools.decisions import Candidate, Decision, DecisionStatus, Outcome, ScoreBreakdown
from tools.events import EventType
from tools.network import NetworkSnapshot, NodeStatus
from tools.sourcing.batch import plan_batch
from tools.sourcing.candidates import generate_candidates
from tools.sourcing.greedy import greedy_candidate
from tools.sourcing.options import OrderContext
from tools.sourcing.situation import Situation, apply_event
from tools.view import NetworkView, position_key

POLICIES = ("agent", "static", "escalate", "oracle")
RESOLVED = frozenset({DecisionStatus.AUTO_RESOLVED, DecisionStatus.RESOLVED})


@dataclass
class Staged:
    """A case made ready to decide: records, records + event, the affected orders."""

    case: ReplayCase
    snapshot: NetworkSnapshot
    view: NetworkView
    event_view: NetworkView
    situation: Situation
    policy: Policy

    @property
    def truth(self) -> Truth:
        return self.case.truth

    @property
    def orders(self) -> list[str]:
        return list(self.situation.affected_orders)


def stage(case: ReplayCase, base: Path, networks: dict[str, NetworkView] | None = None) -> Staged:
    """The case ready to decide. `networks` caches views by `network_ref`, so cases that share
    a network share one parsed copy (a dataset of thousands of cases stays small in memory)."""
    if case.network_ref is not None and case.network is None and networks is not None:
        view = networks.get(case.network_ref)
        if view is None:
            view = networks[case.network_ref] = NetworkView.of(case.resolved_network(base))
        snapshot = view.snapshot
    else:
        snapshot = case.resolved_network(base)
        view = NetworkView.of(snapshot)
    policy = default_policy()
    if case.policy is not None:
        policy = override_policy(policy, case.policy, f"policy of case {case.id}")
    event = case.event
    if event.type is EventType.UNSTRUCTURED:
        # Only text: the orders it concerns are what the case's checks scope it to.
        scope = [
            o
            for o in (case.expected.only_orders if case.expected else None) or []
            if o in view.orders
        ]
        situation = Situation(
            release_at=event.occurred_at, affected_orders=tuple(scope), event_id=event.id
        )
        return Staged(case, snapshot, view, view, situation, policy)
    event_view, situation = apply_event(view, event)
    return Staged(case, snapshot, view, event_view, situation, policy)


@dataclass
class Decided:
    decision: Decision
    executed: Candidate | None  # the plan that runs (None: nothing runs)
    plans: list[Fulfilment]
    latency_ms: float
    tokens: int = 0
    notes: list[str] = field(default_factory=list)


class Decider(Protocol):
    name: str

    def decide(self, staged: Staged) -> Decided: ...


def _decision(
    staged: Staged, status: DecisionStatus, candidate: Candidate | None, by: str
) -> Decision:
    return Decision(
        exception_id=staged.case.event.id,
        status=status,
        actions=list(candidate.actions) if candidate else [],
        candidates=[candidate] if candidate else [],
        chosen=candidate.id if candidate else None,
        policy_version=by,
        orders=staged.orders,
        event_type=staged.case.event.type.value,
    )


def _combined(staged: Staged, picks: list[Candidate], kind: str) -> Candidate | None:
    if not picks:
        return None
    units: dict[str, int] = {}
    capacity: dict[str, int] = {}
    for c in picks:
        for k, v in c.units_by_node.items():
            units[k] = units.get(k, 0) + v
        for k, v in c.capacity_by_node.items():
            capacity[k] = capacity.get(k, 0) + v
    return Candidate(
        id=f"{staged.case.id}:{kind}",
        kind=kind,
        summary="; ".join(c.summary for c in picks),
        actions=[a for c in picks for a in c.actions],
        orders=[o for c in picks for o in c.orders],
        score=ScoreBreakdown(total=round(sum(c.score.total for c in picks), 2)),
        cost_delta=round(sum(c.cost_delta for c in picks), 2),
        units_by_node=units,
        capacity_by_node=capacity,
    )


def static_picks(staged: Staged, view: NetworkView | None = None) -> tuple[list[Candidate], bool]:
    """The static rule per affected order: (candidates for broken orders, all covered?)."""
    policy = staged.policy
    limits = policy.sourcing_limits()
    use = view or staged.event_view
    picks: list[Candidate] = []
    covered = True
    for order_id in staged.orders:
        ctx = OrderContext(use, staged.situation, use.orders[order_id], policy.priorities, limits)
        if not ctx.broken and ctx.keeps_own_stock():
            continue
        found = greedy_candidate(use, staged.situation, order_id, policy.priorities, limits)
        if found is None:
            covered = False
        else:
            picks.append(found)
    return picks, covered


class StaticDecider:
    name = "static"

    def decide(self, staged: Staged) -> Decided:
        t0 = time.perf_counter()
        if staged.case.event.type is EventType.UNSTRUCTURED:
            decision = _decision(staged, DecisionStatus.ESCALATED, None, "static-rule")
            return Decided(decision, None, [], (time.perf_counter() - t0) * 1000)
        picks, covered = static_picks(staged)
        plan = _combined(staged, picks, "static_rule")
        status = DecisionStatus.AUTO_RESOLVED if covered else DecisionStatus.ESCALATED
        decision = _decision(staged, status, plan if covered else None, "static-rule")
        plans = fulfilments(staged.view, staged.orders, decision.actions) if covered else []
        return Decided(
            decision, plan if covered else None, plans, (time.perf_counter() - t0) * 1000
        )


class EscalateDecider:
    name = "escalate"

    def decide(self, staged: Staged) -> Decided:
        t0 = time.perf_counter()
        decision = _decision(staged, DecisionStatus.ESCALATED, None, "escalate-all")
        return Decided(decision, None, [], (time.perf_counter() - t0) * 1000)


def truth_snapshot(staged: Staged) -> tuple[NetworkSnapshot, dict[str, float]]:
    """The records corrected by the truth: real stock and capacity; real lane reliability."""
    snap, truth = staged.snapshot, staged.truth
    inventory = []
    for pos in snap.inventory:
        real = truth.pickable.get(position_key(pos.node, pos.sku))
        if real is None or real >= pos.on_hand:
            inventory.append(pos)
        else:
            inventory.append(
                pos.model_copy(update={"on_hand": real, "reserved": min(pos.reserved, real)})
            )
    nodes = [
        n.model_copy(update={"capacity_units_per_day": truth.node_capacity_units_per_day[n.id]})
        if n.id in truth.node_capacity_units_per_day
        else n
        for n in snap.nodes
    ]
    corrected = snap.model_copy(update={"inventory": inventory, "nodes": nodes})
    return corrected, dict(truth.carrier_on_time)


class OracleDecider:
    """The agent's own decision logic, run knowing the truth (module docstring)."""

    name = "oracle"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def decide(self, staged: Staged) -> Decided:
        from agents.decide import deterministic_choice, judge

        t0 = time.perf_counter()
        event = staged.case.event
        if event.type is EventType.UNSTRUCTURED:
            decision = _decision(staged, DecisionStatus.AUTO_RESOLVED, None, "oracle")
            plans = fulfilments(staged.view, staged.orders, [])
            return Decided(decision, None, plans, (time.perf_counter() - t0) * 1000)
        truth_view, truth_situation = apply_event(truth_view_of(staged), event)
        policy = staged.policy
        limits = policy.sourcing_limits()
        orders = list(truth_situation.affected_orders)
        if len(orders) == 1 and not event.is_scoped:
            cands = generate_candidates(
                truth_view, truth_situation, orders[0], policy.priorities, limits
            )
        else:
            plan = plan_batch(
                truth_view, truth_situation, policy.priorities, limits, time_limit_s=5.0
            )
            cands = [plan.to_candidate()]
        guard = GuardContext.of(staged.event_view, policy, scope_orders=staged.orders)
        _, allowed = judge(cands, guard)
        if not allowed:
            decision = _decision(staged, DecisionStatus.ESCALATED, None, "oracle")
            return Decided(decision, None, [], (time.perf_counter() - t0) * 1000)
        chosen = deterministic_choice(allowed)
        status = (
            DecisionStatus.PENDING_APPROVAL
            if needs_approval(chosen.verdicts)
            else DecisionStatus.AUTO_RESOLVED
        )
        decision = _decision(staged, status, chosen, "oracle")
        plans = fulfilments(staged.view, staged.orders, decision.actions)
        return Decided(decision, chosen, plans, (time.perf_counter() - t0) * 1000)


def truth_view_of(staged: Staged) -> NetworkView:
    """The records corrected by the truth, as the sourcing tools read them: real pickable
    stock (and so record accuracy 1), real capacity, real lane reliability, and partners that
    would reject new work closed to it (a partner already holding an affected order keeps it:
    the truth's acceptance is about new work)."""
    corrected, lanes = truth_snapshot(staged)
    holding = {
        o.allocation.node
        for o in (staged.view.orders[x] for x in staged.orders)
        if o.allocation is not None
    }
    nodes = [
        n.model_copy(update={"status": NodeStatus.CLOSED})
        if staged.truth.partner_accepts.get(n.id) is False and n.id not in holding
        else n
        for n in corrected.nodes
    ]
    snapshot = corrected.model_copy(update={"nodes": nodes})
    return NetworkView.of(
        snapshot, carrier_reliability=lanes, node_accuracy={n.id: 1.0 for n in nodes}
    )


class AgentDecider:
    """The real resolver, one fresh SQLite store per case (copied from a migrated template)."""

    name = "agent"

    def __init__(self, workdir: Path) -> None:
        from tools.store import Store

        self.workdir = workdir
        self.template = workdir / "template.db"
        Store.open(f"sqlite:///{self.template.as_posix()}").close()
        self.count = 0

    def decide(self, staged: Staged) -> Decided:
        from agents.resolver import Resolver
        from tools.settings import Settings

        self.count += 1
        db = self.workdir / f"case-{self.count}.db"
        shutil.copyfile(self.template, db)
        settings = Settings(home=self.workdir / "home", db_url=None)
        try:
            with Resolver.open(
                settings,
                db_url=f"sqlite:///{db.as_posix()}",
                policy=staged.policy,
                use_memory=False,
            ) as resolver:
                resolver.store.load_snapshot(staged.snapshot)
                decision = resolver.resolve(staged.case.event)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        return agent_decided(staged, decision)


def agent_decided(staged: Staged, decision: Decision) -> Decided:
    """A resolver's decision as the replay scores it: the chosen plan and its fulfilments."""
    chosen = next((c for c in decision.candidates if c.id == decision.chosen), None)
    acting = decision.status in RESOLVED or decision.status is DecisionStatus.PENDING_APPROVAL
    executed = chosen if acting else None
    plans = fulfilments(staged.view, staged.orders, decision.actions) if acting else []
    return Decided(decision, executed, plans, decision.latency_ms, decision.llm_usage.total_tokens)


@contextmanager
def decider(name: str, seed: int = 0) -> Iterator[Decider]:
    if name == "agent":
        with tempfile.TemporaryDirectory(prefix="execlayer-eval-") as tmp:
            yield AgentDecider(Path(tmp))
        return
    if name == "static":
        yield StaticDecider()
    elif name == "escalate":
        yield EscalateDecider()
    elif name == "oracle":
        yield OracleDecider(seed)
    else:
        raise ValueError(f"unknown policy {name!r}; one of {', '.join(POLICIES)}")


def person_fulfilments(staged: Staged, decided: Decided, seed: int) -> list[Fulfilment]:
    """What finally happens to each affected order, people included (module docstring)."""
    status = decided.decision.status
    u, _ = _uniforms(seed, staged.case.id, "person", 0)
    wait = math.exp(0.8 * _probit(u))  # log-normal factor around the median wait
    if status in RESOLVED:
        return decided.plans
    if status is DecisionStatus.PENDING_APPROVAL:
        plans = [dataclasses.replace(p) for p in decided.plans]
        for p in plans:
            p.delay_hours = APPROVAL_HOURS * wait
            p.manual_cost = MANUAL_COST_APPROVAL
        return plans
    # Escalated (or failed / rejected): a person triages later with the static playbook.
    if staged.case.event.type is EventType.UNSTRUCTURED:
        plans = [keep_plan(staged.view.orders[o]) for o in staged.orders]
    else:
        picks, _ = static_picks(staged)
        actions = [a for c in picks for a in c.actions]
        plans = fulfilments(staged.view, staged.orders, actions)
    for p in plans:
        p.delay_hours = TRIAGE_HOURS * wait
        p.manual_cost = MANUAL_COST_ESCALATED
    return plans


def _probit(u: float) -> float:
    from evals.outcomes import _normal_ppf

    return _normal_ppf(u)


def guardrail_violations(staged: Staged, decided: Decided) -> list[str]:
    """Re-evaluate what executes against the policy: a deny, or an autonomous run of a plan
    that needed approval, is a violation."""
    plan = decided.executed
    status = decided.decision.status
    if plan is None or status not in RESOLVED | {DecisionStatus.PENDING_APPROVAL}:
        return []
    guard = GuardContext.of(staged.event_view, staged.policy, scope_orders=staged.orders)
    verdicts = evaluate(plan, guard)
    found = [f"{v.rule}: {v.reason}" for v in verdicts if v.outcome is Outcome.DENY]
    if status is DecisionStatus.AUTO_RESOLVED:
        found += [
            f"{v.rule} (ran without approval): {v.reason}"
            for v in verdicts
            if v.outcome is Outcome.APPROVE
        ]
    return found
