"""What the sync `Resolver` and the `AsyncResolver` share: everything but running the graph.

Both front-ends validate and register events, decide approvals by compare-and-set, find the
work a restart must finish and record outcomes through this one class; they differ only in
how they run the graph (`invoke` with a sync checkpointer, or `ainvoke` with an async one,
blocking store calls pushed to a thread). Nothing here touches a checkpointer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict

from agents.context import ResolverContext
from agents.precedents import MemoryUnavailable, PrecedentOutcome
from agents.state import HumanDecision
from guardrails.policy import Policy, default_policy, load_policy
from tools.booking import CarrierAdapter, SimulatedCarrier
from tools.decisions import ApprovalStatus, Decision, DecisionStatus, OrderOutcome
from tools.events import ExceptionEvent
from tools.inputs import InputError
from tools.settings import Settings
from tools.store import ApprovalRecord, ExceptionRecord, NoNetwork, Store

if TYPE_CHECKING:  # chromadb: imported only when precedent memory is used
    from agents.memory import PrecedentMemory

log = logging.getLogger(__name__)

# How long a duplicate request waits for the first one's decision before finishing it itself.
DUPLICATE_WAIT_S = 15.0
DUPLICATE_POLL_S = 0.05
# Exceptions still `processing` that `recover()` finishes, at most, per call.
RECOVER_LIMIT = 1000
# A run that has held its claim this long without deciding is presumed dead (decisions take
# milliseconds; a batch optimisation and an LLM call are bounded well below this): another
# resolver may take it over and finish it from its last checkpoint.
CLAIM_LEASE = timedelta(seconds=60)


class ResolutionError(RuntimeError):
    """The resolver could not finish (e.g. the database went away); nothing half-written."""


class ApprovalNotFound(LookupError):
    pass


class ApprovalAlreadyDecided(RuntimeError):
    def __init__(self, approval_id: str, status: str, decision: Decision | None) -> None:
        super().__init__(f"approval {approval_id} is already {status}")
        self.approval_id = approval_id
        self.status = status
        self.decision = decision


class OutcomeReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order: str
    carrier_reliability: dict[str, float] = {}
    node_accuracy: dict[str, float] = {}
    notes: list[str] = []


class Resumption(BaseModel):
    """An approval decided in the store whose graph was not resumed (the process stopped)."""

    model_config = ConfigDict(extra="forbid")

    approval_id: str
    exception_id: str
    human: HumanDecision


def open_memory(settings: Settings) -> PrecedentMemory | None:
    from agents.memory import PrecedentMemory

    try:
        return PrecedentMemory.from_settings(settings)  # a chromadb server, or files
    except MemoryUnavailable as exc:
        log.warning("precedent memory unavailable, continuing without it: %s", exc)
        return None


@contextmanager
def open_context(
    settings: Settings,
    *,
    db_url: str | None = None,
    policy: Policy | None = None,
    carrier: CarrierAdapter | None = None,
    use_llm: bool = True,
    use_memory: bool = True,
    memory: PrecedentMemory | None = None,
) -> Iterator[tuple[ResolverContext, str]]:
    """The run-time context (store, policy, advisor, memory, carrier) and the store's URL;
    the store is closed on exit."""
    url = db_url or settings.database_url
    with ExitStack() as stack:
        store = Store.open(url)
        stack.callback(store.close)
        if policy is None:
            policy = load_policy(settings.policy) if settings.policy else default_policy()
        advisor = None
        if use_llm and settings.llm_configured:  # openai is imported only when needed
            from agents.advisor import LlmAdvisor
            from agents.llm_client import LlmClient

            client = LlmClient.from_settings(settings)
            advisor = LlmAdvisor(client) if client is not None else None
        if memory is None and use_memory:
            memory = open_memory(settings)
        context = ResolverContext(
            store=store,
            policy=policy,
            carrier=carrier or SimulatedCarrier(store),
            advisor=advisor,
            memory=memory,
        )
        yield context, url


class ResolverCore:
    """Reference checks, registration, approvals, recovery and outcomes over the store."""

    def __init__(self, context: ResolverContext) -> None:
        self.context = context
        # Who holds a claim on a run: host, process and this resolver instance.
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def store(self) -> Store:
        return self.context.store

    @staticmethod
    def config(exception_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": exception_id}}

    # -- exceptions ---------------------------------------------------------------------
    def check_references(self, event: ExceptionEvent) -> None:
        """Unknown ids in an event are bad input: refuse it before anything is written."""
        try:
            view = self.store.view(event.orders)
        except NoNetwork:
            raise InputError(
                "exception event", ["no network loaded: run `execlayer load` first"]
            ) from None
        problems = [
            f"orders[{i}]: unknown order {o!r}"
            for i, o in enumerate(event.orders)
            if o not in view.orders
        ]
        for field, value, known in (
            ("node", event.node, view.nodes),
            ("carrier", event.carrier, view.carriers),
            ("sku", event.sku, view.skus),
        ):
            if value is not None and value not in known:
                problems.append(f"{field}: unknown {field} {value!r}")
        if event.region is not None:
            regions = {n.region for n in view.nodes.values()} | {
                r for c in view.carriers.values() for r in c.regions
            }
            if event.region not in regions:
                problems.append(f"region: unknown region {event.region!r}")
        if problems:
            raise InputError("exception event", problems)
        if event.orders:  # perceive starts from this read instead of making it again
            self.context.reads.put((event.id, *event.orders), view)

    def register(self, event: ExceptionEvent) -> tuple[ExceptionRecord, bool]:
        """Check the event, then register it (the id is the idempotency key): (record, True)
        for a new exception, (the first record, False) for a duplicate."""
        self.check_references(event)
        return self.store.register_exception(event, status="processing", claimed_by=self.worker_id)

    def enqueue(self, event: ExceptionEvent) -> tuple[ExceptionRecord, bool]:
        """Check the event, then queue it for a worker (`execlayer worker`) instead of deciding
        it now: (record, True) when queued, (the first record, False) for a duplicate id."""
        self.check_references(event)
        return self.store.register_exception(event, status="queued")

    def claim_next(self) -> ExceptionRecord | None:
        """The oldest queued exception, now claimed by this resolver (on PostgreSQL with
        `SELECT ... FOR UPDATE SKIP LOCKED`: each goes to exactly one claimant); None when
        the queue is empty."""
        return self.store.claim_next_exception(self.worker_id)

    def requeue_stale(self, lease: timedelta = CLAIM_LEASE) -> list[str]:
        """Put back in the queue exceptions whose claimant stopped deciding `lease` ago (a
        worker or server that died); their runs go on from their last checkpoint."""
        return self.store.requeue_stale_claims(self.context.clock() - lease)

    def take_over_if_stale(self, exception_id: str, lease: timedelta = CLAIM_LEASE) -> bool:
        """Claim a run whose resolver stopped deciding more than `lease` ago; exactly one of
        several racing resolvers wins. A fresh claim (a live run) is never taken."""
        return self.store.take_over_exception(
            exception_id, self.worker_id, self.context.clock() - lease
        )

    def still_running(self, exception_id: str) -> ResolutionError:
        return ResolutionError(
            f"{exception_id} is still being resolved elsewhere; ask again shortly"
        )

    def decision(self, exception_id: str) -> Decision | None:
        record = self.store.get_exception(exception_id)
        return record.decision if record is not None else None

    def failed(self, exception_id: str, exc: Exception) -> ResolutionError:
        """The error a stopped run raises; a `resolution_failed` notice goes to the outbox
        when the store can still take it."""
        message = (
            f"resolution of {exception_id} stopped: {type(exc).__name__}: {exc}. "
            "Completed steps are recorded; it resumes from its last checkpoint."
        )
        try:
            self.store.enqueue_outbox(
                "resolution_failed",
                {"exception_id": exception_id, "error": message},
                key=f"resolution-failed:{exception_id}",
            )
        except Exception:
            log.warning("could not queue the failure notice of %s", exception_id)
        return ResolutionError(message)

    def result_decision(self, result: Any, exception_id: str) -> Decision:
        """The decision a graph run produced (from its final state, else from the store)."""
        decision = result.get("decision") if isinstance(result, dict) else None
        if decision is None:
            decision = self.decision(exception_id)
        if decision is None:
            raise ResolutionError(f"resolution of {exception_id} produced no decision")
        return decision

    # -- approvals ----------------------------------------------------------------------
    def claim_approval(self, approval_id: str, human: HumanDecision) -> ApprovalRecord:
        """Decide a pending approval in the store (compare and set: exactly one caller wins)
        and bind the person to it in the audit log. The graph is not resumed here."""
        approval = self.store.get_approval(approval_id)
        if approval is None:
            raise ApprovalNotFound(f"no approval {approval_id!r}")
        exception_id = approval.exception_id
        if approval.status is not ApprovalStatus.PENDING:
            raise ApprovalAlreadyDecided(
                approval_id, approval.status.value, self.decision(exception_id)
            )
        status = ApprovalStatus.APPROVED if human.decision == "approve" else ApprovalStatus.REJECTED
        won = self.store.decide_approval(
            approval_id, status, human.actor, human.channel, human.comment or None
        )
        if not won:
            current = self.store.get_approval(approval_id)
            raise ApprovalAlreadyDecided(
                approval_id,
                current.status.value if current else "gone",
                self.decision(exception_id),
            )
        self.store.append_approval_log(
            approval_id,
            exception_id,
            status.value,
            human.actor,
            {"channel": human.channel, "comment": human.comment},
        )
        decided = self.store.get_approval(approval_id)
        assert decided is not None
        return decided

    def announce_decided(self, approval_id: str, decision: Decision) -> None:
        """Queue the `approval_decided` notice (e.g. to update the Slack message), once."""
        approval = self.store.get_approval(approval_id)
        if approval is None:
            return
        self.store.enqueue_outbox(
            "approval_decided",
            {
                "approval": approval.model_dump(mode="json"),
                "decision": decision.model_dump(mode="json"),
            },
            key=f"approval-decided:{approval_id}",
        )

    # -- recovery -----------------------------------------------------------------------
    def pending_resumptions(self) -> list[Resumption]:
        """Approvals decided in the store whose exception still waits for them."""
        found: list[Resumption] = []
        for approval in self.store.list_approvals():
            if approval.status not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
                continue
            current = self.decision(approval.exception_id)
            if current is None or current.status is not DecisionStatus.PENDING_APPROVAL:
                continue
            if current.approval is None or current.approval.id != approval.id:
                continue
            human = HumanDecision(
                decision="approve" if approval.status is ApprovalStatus.APPROVED else "reject",
                actor=approval.decided_by or "unknown",
                channel=approval.channel or "api",
                comment=approval.comment or "",
                decided_at=approval.decided_at,
            )
            found.append(
                Resumption(approval_id=approval.id, exception_id=approval.exception_id, human=human)
            )
        return found

    def stalled_runs(self, lease: timedelta = CLAIM_LEASE) -> list[str]:
        """Exceptions whose run stopped before a decision (still `processing`, claim stale),
        now claimed by this resolver to finish."""
        return [
            r.id
            for r in self.store.list_exceptions(status="processing", limit=RECOVER_LIMIT)
            if r.decision is None and self.take_over_if_stale(r.id, lease)
        ]

    # -- outcomes -----------------------------------------------------------------------
    def record_outcome(self, outcome: OrderOutcome) -> OutcomeReport:
        order = self.store.get_order(outcome.order)
        if order is None:
            raise InputError("outcome", [f"order: unknown order {outcome.order!r}"])
        key = "outcome:" + hashlib.sha256(outcome.model_dump_json().encode()).hexdigest()[:24]
        self.store.append_outcome_log(
            outcome.order, outcome.exception_id, outcome.model_dump(mode="json")
        )
        report = OutcomeReport(order=order.id)
        view = self.store.view([order.id])
        carrier_on_time = (
            outcome.carrier_on_time
            if outcome.carrier_on_time is not None
            else outcome.delivered_on_time
        )
        if carrier_on_time is not None:
            carrier = outcome.carrier
            if carrier is None and order.allocation is not None:
                found = view.services.get(order.allocation.carrier_service)
                carrier = found[0].id if found else None
            region = outcome.region or order.ship_to.region
            if carrier is None:
                report.notes.append("delivery not learnt: no carrier known for the order")
            elif carrier not in view.carriers:
                raise InputError("outcome", [f"carrier: unknown carrier {carrier!r}"])
            else:
                self.store.record_delivery(carrier, region, carrier_on_time, key)
                report.carrier_reliability = {
                    k: v
                    for k, v in self.store.reliability_posteriors().items()
                    if k == f"{carrier}/{region}"
                }
        if outcome.picked_units is not None and outcome.expected_units:
            node = outcome.node or (order.allocation.node if order.allocation else None)
            if node is None or node not in view.nodes:
                raise InputError("outcome", [f"node: unknown or missing node {node!r}"])
            self.store.record_pick(node, outcome.expected_units, outcome.picked_units, key)
            report.node_accuracy = {
                k: v for k, v in self.store.accuracy_posteriors().items() if k == node
            }
        memory = self.context.memory
        if memory is not None and outcome.exception_id:
            try:
                memory.record_outcome(
                    outcome.exception_id,
                    PrecedentOutcome(
                        promise_kept=outcome.delivered_on_time,
                        partner_accepted=outcome.partner_accepted,
                        actual_cost=outcome.actual_cost,
                    ),
                )
            except MemoryUnavailable as exc:
                report.notes.append(f"precedent not updated: {exc}")
        return report
