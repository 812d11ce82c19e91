"""The learning curve: does the agent notice that a carrier got worse, and stop using it?

A long replay on ONE store (so learning accumulates), where one carrier's TRUE on-time
reliability into one region drops midway (by default PARCELCO into NE: 0.95 -> 0.45) while
its recorded `on_time_rate` stays 0.95. Every exception in the stream is resolved by choosing
a carrier service: `sla_risk` (keep, rebook or upgrade a tight order), `cutoff_missed` (the
parcel missed today's pick-up: upgrade to an overnight service, or re-promise) and
`carrier_disruption` (the order's regional carrier is down: rebook). Two carriers can serve
every order: PARCELCO (ground $1.50 cheaper, recorded 0.95) and SWIFT (recorded 0.93, truly
0.93 throughout; overnight at the same price as PARCELCO's); so once the agent believes
PARCELCO/NE is poor, SWIFT is the better choice. Promises are tight (3-8 hours of slack on the
planned ground arrival), so P(on time) is close to the carrier's reliability.

Each delivery is reported the way a carrier integration sees it: on time against the promise
in force (`delivered_on_time`) and on time against the carrier's own ETA (`carrier_on_time`).
Carrier reliability learns from the latter, so an overnight upgrade that beat the promise
thanks to a day of slack but came late against its own ETA still counts against a degraded
carrier (learning from the promise alone let such upgrades pull a degraded lane's posterior
back up).

The real resolver (`agents.resolver.Resolver`: perceive -> decide -> guard -> act -> learn,
deterministic, no LLM, no precedent memory) decides each exception. The executed shipment is
then delivered under the truth with a seeded RNG, using the promise model's own shape
(`tools.promise`): on the carrier's ETA with the TRUE probability r, otherwise after a
log-normal delay (median 0.93 x transit, sigma 0.825, doubled on a disrupted lane). Outcomes
become known when the parcel arrives; with learning ON each is fed back through
`Resolver.record_outcome` before the first exception that happens after it (so the Beta
posterior of the lane, which `NetworkView.reliability` gives the promise tool, moves with a
realistic lag); with learning OFF nothing is fed back.

Both runs see the same stream and the same random draws per case (common random numbers), so
the difference between them is the decisions alone. A promise is kept when the order arrives
by its ORIGINAL `promised_by` (a re-promise or a cancellation is a promise not kept).
"""

from __future__ import annotations

import heapq
import random
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agents.resolver import Resolver
from agents.state import HumanDecision
from evals.learning_delivery import deliver, new_promise, planned_shipment, shipments_of
from evals.learning_scenario import (
    DAY,
    REGIONAL_CARRIER,
    LearningConfig,
    Scenario,
    StreamItem,
    build_scenario,
    true_reliability,
)
from guardrails.policy import Policy, default_policy
from guardrails.policy_schema import RateLimit
from tools.decisions import ActionType, DecisionStatus, OrderOutcome
from tools.network import NetworkSnapshot
from tools.settings import Settings
from tools.view import lane_key


# ---------------------------------------------------------------------------- the runs
class CaseResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    exception_id: str
    family: str
    region: str
    degraded: bool
    status: str
    carrier_service: str | None
    believed_reliability: float | None  # the resolver's view of the chosen lane, at decision
    true_reliability: float | None
    promise_kept: bool
    cost_delta: float


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learning: bool
    cases: list[CaseResult]
    outcomes_recorded: int
    final_posteriors: dict[str, float]


ProgressHook = Callable[[int, int], None]


def replay_policy() -> Policy:
    """The default policy, less the hourly per-node rate limit: that limit counts WALL-clock
    time, and a replay puts weeks of exceptions into a minute, so it would send every plan
    after the 200th to a person for reasons that never happened."""
    policy = default_policy()
    return policy.model_copy(
        update={"rate_limit": RateLimit(max_autonomous_actions_per_node_per_hour=None)}
    )


def _case_draws(seed: int, index: int) -> tuple[float, float]:
    """The same two random numbers for a case in every run (common random numbers)."""
    rng = random.Random(seed * 1_000_003 + index)
    return rng.random(), rng.gauss(0.0, 1.0)


def run_stream(
    scenario: Scenario,
    *,
    learning: bool,
    workdir: Path | None = None,
    progress: ProgressHook | None = None,
) -> RunResult:
    """Resolve the whole stream on a fresh SQLite store; feed outcomes back iff `learning`."""
    with tempfile.TemporaryDirectory(prefix="execlayer-learn-", dir=workdir) as home:
        settings = Settings(
            _env_file=None,
            home=Path(home),
            db_url=f"sqlite:///{Path(home) / 'store.db'}",
        )
        with Resolver.open(
            settings, policy=replay_policy(), use_llm=False, use_memory=False
        ) as resolver:
            resolver.store.load_snapshot(scenario.snapshot)
            return _run(resolver, scenario, learning, progress)


def _run(
    resolver: Resolver, scenario: Scenario, learning: bool, progress: ProgressHook | None
) -> RunResult:
    config = scenario.config
    snapshot = scenario.snapshot
    orders = {o.id: o for o in snapshot.orders}
    pending: list[tuple[datetime, int, OrderOutcome]] = []  # outcomes not yet known
    recorded = 0
    results: list[CaseResult] = []
    total = len(scenario.stream)
    for item in scenario.stream:
        now = item.event.occurred_at
        while pending and pending[0][0] <= now:
            _, _, outcome = heapq.heappop(pending)
            if learning:
                resolver.record_outcome(outcome)
                recorded += 1
        decision = resolver.resolve(item.event)
        if decision.status is DecisionStatus.PENDING_APPROVAL and decision.approval is not None:
            # A person accepts the agent's plan: the curve measures the agent's choices.
            decision = resolver.decide_approval(
                decision.approval.id,
                HumanDecision(decision="approve", actor="eval:learning", channel="eval"),
            )
        order = orders[item.order_id]
        believed = resolver.store.reliability_posteriors()
        truth = true_reliability(config, item.degraded)
        executed = decision.status in (DecisionStatus.AUTO_RESOLVED, DecisionStatus.RESOLVED)
        shipments = shipments_of(decision, order.id, snapshot) if executed else []
        cancelled = executed and any(a.type is ActionType.CANCEL_LINES for a in decision.actions)
        if not shipments and not cancelled:
            # Nobody acted (escalated, rejected, failed): the order ships as it was booked,
            # after the event (a missed cut-off leaves tomorrow).
            shipments = [planned_shipment(order, snapshot, _release_after(item, snapshot))]
        draws = _case_draws(config.seed, item.index)
        deliveries = [
            deliver(
                s,
                order,
                snapshot,
                truth,
                disrupted=item.family == "carrier_disruption" and s.carrier == REGIONAL_CARRIER,
                draws=draws,
            )
            for s in shipments
        ]
        kept = bool(deliveries) and not cancelled and all(d.on_time for d in deliveries)
        # What the OMS reports back: on time against the promise in force (a re-promise
        # moved it), so the carrier is judged on what it was asked to do.
        in_force = new_promise(decision, order) if executed else order.promised_by
        first = deliveries[0] if deliveries else None
        chosen = first.shipment if first is not None else None
        if first is not None and chosen is not None and first.arrived_at is not None:
            outcome = OrderOutcome(
                order=order.id,
                exception_id=item.event.id,
                occurred_at=first.arrived_at,
                carrier=chosen.carrier,
                region=order.ship_to.region,
                delivered_at=first.arrived_at,
                delivered_on_time=first.arrived_at <= in_force,
                carrier_on_time=first.arrived_at <= first.shipment.eta,
            )
            heapq.heappush(pending, (first.arrived_at, item.index, outcome))
        results.append(
            CaseResult(
                index=item.index,
                exception_id=item.event.id,
                family=item.family,
                region=item.region,
                degraded=item.degraded,
                status=decision.status.value,
                carrier_service=chosen.carrier_service if chosen else None,
                believed_reliability=(
                    round(
                        believed.get(
                            lane_key(chosen.carrier, order.ship_to.region),
                            next(
                                c.on_time_rate for c in snapshot.carriers if c.id == chosen.carrier
                            ),
                        ),
                        4,
                    )
                    if chosen
                    else None
                ),
                true_reliability=first.true_reliability if first else None,
                promise_kept=kept,
                cost_delta=round(sum(a.cost_delta for a in decision.actions), 2)
                if executed
                else 0.0,
            )
        )
        if progress is not None:
            progress(item.index + 1, total)
    return RunResult(
        learning=learning,
        cases=results,
        outcomes_recorded=recorded,
        final_posteriors={
            k: round(v, 4) for k, v in resolver.store.reliability_posteriors().items()
        },
    )


def _release_after(item: StreamItem, snapshot: NetworkSnapshot) -> datetime:
    if item.family == "cutoff_missed":
        hour = next(n.cutoff_hour_utc for n in snapshot.nodes if n.id == item.event.node)
        moment = item.event.occurred_at
        return (
            moment.replace(hour=hour, minute=0, second=0, microsecond=0) + DAY - timedelta(hours=1)
        )
    return item.event.occurred_at


# ---------------------------------------------------------------------------- the curve
class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    first_case: int
    last_case: int
    degraded: bool  # every case of the window is after the degradation
    cases: int
    learning_kept: float
    static_kept: float
    learning_share_degraded_lane: float  # share of cases shipped on the degraded lane
    static_share_degraded_lane: float


class LearningCurve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: LearningConfig
    degraded_lane: str
    windows: list[Window]
    learning_kept_before: float
    static_kept_before: float
    learning_kept_after: float
    static_kept_after: float
    learning_kept_last_windows: float  # after the agent had time to learn (last third)
    static_kept_last_windows: float
    outcomes_recorded: int
    final_posteriors: dict[str, float]
    seconds: float


def _rate(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _on_lane(case: CaseResult, config: LearningConfig) -> bool:
    return (
        case.carrier_service is not None
        and case.carrier_service.startswith(config.carrier + "-")
        and case.region == config.region
    )


def summarise(
    config: LearningConfig, learn: RunResult, static: RunResult, seconds: float
) -> LearningCurve:
    windows: list[Window] = []
    n = len(learn.cases)
    for w, start in enumerate(range(0, n, config.window)):
        a = learn.cases[start : start + config.window]
        b = static.cases[start : start + config.window]
        windows.append(
            Window(
                index=w,
                first_case=start,
                last_case=start + len(a) - 1,
                degraded=all(c.degraded for c in a),
                cases=len(a),
                learning_kept=_rate([c.promise_kept for c in a]),
                static_kept=_rate([c.promise_kept for c in b]),
                learning_share_degraded_lane=_rate([_on_lane(c, config) for c in a]),
                static_share_degraded_lane=_rate([_on_lane(c, config) for c in b]),
            )
        )
    cut = config.degrade_index
    last = n - max(config.window, (n - cut) // 3)
    return LearningCurve(
        config=config,
        degraded_lane=lane_key(config.carrier, config.region),
        windows=windows,
        learning_kept_before=_rate([c.promise_kept for c in learn.cases[:cut]]),
        static_kept_before=_rate([c.promise_kept for c in static.cases[:cut]]),
        learning_kept_after=_rate([c.promise_kept for c in learn.cases[cut:]]),
        static_kept_after=_rate([c.promise_kept for c in static.cases[cut:]]),
        learning_kept_last_windows=_rate([c.promise_kept for c in learn.cases[last:]]),
        static_kept_last_windows=_rate([c.promise_kept for c in static.cases[last:]]),
        outcomes_recorded=learn.outcomes_recorded,
        final_posteriors=learn.final_posteriors,
        seconds=round(seconds, 2),
    )


def learning_curve(
    config: LearningConfig,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    workdir: Path | None = None,
) -> tuple[LearningCurve, RunResult, RunResult]:
    """Both runs over the same stream: (the curve, the learning run, the non-learning run)."""
    import time

    started = time.perf_counter()
    scenario = build_scenario(config)

    def hook(label: str) -> ProgressHook | None:
        if progress is None:
            return None
        return lambda done, total: progress(label, done, total)

    learn = run_stream(scenario, learning=True, workdir=workdir, progress=hook("learning on"))
    static = run_stream(scenario, learning=False, workdir=workdir, progress=hook("learning off"))
    curve = summarise(config, learn, static, time.perf_counter() - started)
    return curve, learn, static
